// CPU per preflight, for comparing worker changes: one 20-host lab and one dev server, then `preflightCluster` runs
// by checkouts of this repository taken in turn (A B A B ...), each round a child process with a new worker on the
// same lab and server, as the bench's "new worker per round" row. Each child prints, per preflight, its own CPU
// (user+sys, all threads; Linux /proc) and the dev server's over the workflow start to its result, the split by
// thread (bench/cpu.ts threadSplit) and wall time. On this shared 2-core machine CPU is steadier than wall time.
//
//   npx tsx bench/preflight-cpu.ts [checkout ...]     (default: this checkout; BENCH_HOSTS=20 CPU_ROUNDS=4
//                                                       CPU_PER_CHILD=2: preflights per child, each a new worker)
//   A checkout may carry node flags: `../base,--single-threaded-gc` runs that checkout's children with them.
//   CPU_PROF=dir  runs each child under node --cpu-prof (every thread) into dir/<label>/, with windows-N.json (each
//                 preflight's span on the profiles' clock): `npx tsx bench/cpu-profile.ts dir/<label>` sums them.
//
// A checkout to compare needs this file (copy it in): the child half runs that checkout's worker code. A child's
// first preflight also pays its process's cold start (V8 compiling ssh2, the SDK, our activities): ~250 ms more CPU
// than its second, under load.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const CHILD = process.env.PREFLIGHT_CPU_CHILD === '1';

interface Sample {
  wall: number;
  self: number;
  server: number;
  main: number;
  workflow: number;
  core: number;
  other: number;
  /** The window, in µs of the monotonic clock (as a --cpu-prof profile's timestamps). */
  from: number;
  to: number;
}

if (CHILD) await child();
else await parent();

async function parent(): Promise<void> {
  const { createLab } = await import('../lab/index.js');
  const { writeLabInventory } = await import('../lab/inventory.js');
  const { startDevServer, stopDevServer } = await import('../src/temporal/dev-server.js');
  const { freePort } = await import('../src/temporal/process-util.js');
  // `checkout[,node flag,...]`: e.g. `../base,--max-semi-space-size=32` runs that checkout's children with the flag.
  const specs = process.argv.slice(2).length
    ? process.argv.slice(2)
    : [resolve(fileURLToPath(import.meta.url), '../..')];
  const flagsOf = new Map(specs.map((s) => [s, s.split(',').slice(1)]));
  const dirOf = (spec: string) => resolve(spec.split(',')[0]!);
  const checkouts = specs;
  const rounds = Number(process.env.CPU_ROUNDS ?? 4);
  const lab = await createLab({ hosts: Number(process.env.BENCH_HOSTS ?? 20), readyTimeoutMs: 120_000 });
  const server = { port: await freePort(), headless: true, dbFile: join(lab.dir, 't.db'), logLevel: 'error' as const };
  const all = new Map<string, Sample[]>(checkouts.map((c) => [c, []]));
  try {
    const { address, pid } = await startDevServer(server);
    const inventory = await writeLabInventory(join(lab.dir, 'inv.yaml'), lab.inventory());
    for (let r = 0; r < rounds; r++) {
      for (const spec of checkouts) {
        const dir = dirOf(spec);
        const label = basename(spec);
        const prof = process.env.CPU_PROF ? join(resolve(process.env.CPU_PROF), label) : undefined;
        if (prof) await mkdir(prof, { recursive: true });
        const { stdout } = await run(
          process.execPath,
          [
            ...flagsOf.get(spec)!,
            ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []),
            '--import',
            'tsx',
            join(dir, 'bench/preflight-cpu.ts'),
          ],
          {
            cwd: dir,
            env: {
              ...process.env,
              PREFLIGHT_CPU_CHILD: '1',
              PREFLIGHT_CPU_ADDRESS: address,
              PREFLIGHT_CPU_INVENTORY: inventory,
              PREFLIGHT_CPU_SERVER_PID: String(pid ?? ''),
              KUBEADM2HA_LOG_LEVEL: process.env.KUBEADM2HA_LOG_LEVEL ?? 'WARN',
            },
            maxBuffer: 64 << 20,
          },
        );
        const samples = stdout
          .split('\n')
          .filter((l) => l.startsWith('SAMPLE '))
          .map((l) => JSON.parse(l.slice(7)) as Sample);
        all.get(spec)!.push(...samples);
        if (prof) await writeFile(join(prof, `windows-${r}.json`), JSON.stringify(samples));
        for (const s of samples)
          console.log(
            `round ${r} ${label} load ${loadavg()[0]!.toFixed(1)}: wall ${s.wall} cpu ${s.self + s.server} ` +
              `(worker ${s.self} server ${s.server}; main ${s.main} workflow ${s.workflow} core ${s.core} other ${s.other})`,
          );
      }
    }
  } finally {
    await stopDevServer(server).catch(() => undefined);
    await lab.destroy();
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  for (const [spec, s] of all) {
    const m = (k: keyof Sample) => med(s.map((x) => x[k]));
    console.log(
      `MEDIAN ${basename(spec)} (n=${s.length}): cpu ${med(s.map((x) => x.self + x.server))} (worker ${m('self')} ` +
        `server ${m('server')}; main ${m('main')} workflow ${m('workflow')} core ${m('core')} other ${m('other')}) wall ${m('wall')}`,
    );
  }
}

async function child(): Promise<void> {
  const { Client } = await import('@temporalio/client');
  const { NativeConnection } = await import('@temporalio/worker');
  const { loadInventory } = await import('../src/inventory/index.js');
  const { sshTrustOf } = await import('../src/activities/ssh-trust.js');
  const { dataConverter } = await import('../src/temporal/data-converter.js');
  const { WORKFLOW_TASK_TIMEOUT } = await import('../src/temporal/workflow-start.js');
  const { installRedactingLogger } = await import('../src/worker/runtime-logging.js');
  const { createKubeadmHaWorker } = await import('../src/worker.js');
  const { processCpuMs, selfCpuMs, threadCpu, threadSplit } = await import('./cpu.js');
  const inv = (await loadInventory(process.env.PREFLIGHT_CPU_INVENTORY!)).inventory;
  const serverPid = Number(process.env.PREFLIGHT_CPU_SERVER_PID) || undefined;
  installRedactingLogger();
  for (let i = 0; i < Number(process.env.CPU_PER_CHILD ?? 2); i++) {
    // As bench/sections/ansible.ts `ours`: a new worker, the client on its connection, eager start.
    const native = await NativeConnection.connect({ address: process.env.PREFLIGHT_CPU_ADDRESS! });
    const client = new Client({ connection: native, dataConverter: dataConverter() });
    const taskQueue = `cpu-${process.pid}-${i}`;
    const existing = threadCpu();
    const w = await createKubeadmHaWorker({ connection: native, taskQueue, sshTrust: sshTrustOf(inv) });
    const workflowThreads = new Set(
      [...threadCpu()].filter(([tid, t]) => !existing.has(tid) && !t.name.startsWith('tokio')).map(([tid]) => tid),
    );
    const before = threadCpu();
    let atResult = before;
    let selfAt = 0;
    let serverAt = 0;
    const [s0, v0, t0] = [selfCpuMs(), serverPid ? processCpuMs(serverPid) : NaN, performance.now()];
    const from = Number(process.hrtime.bigint() / 1000n);
    let to = 0;
    let wall = 0;
    const handle = await client.workflow.start('preflightCluster', {
      taskQueue,
      workflowId: `cpu/${taskQueue}`,
      args: [{ inventory: inv }],
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
      requestEagerStart: true,
    });
    const result = handle.result().then((r) => {
      wall = performance.now() - t0;
      to = Number(process.hrtime.bigint() / 1000n);
      atResult = threadCpu();
      selfAt = selfCpuMs();
      serverAt = serverPid ? processCpuMs(serverPid) : NaN;
      return r as { summary: { fail: number } };
    });
    const report = (await w.run(result)) as { summary: { fail: number } };
    await native.close();
    if (report.summary.fail) throw new Error(`preflight failed checks: ${JSON.stringify(report)}`);
    const split = threadSplit(before, atResult, workflowThreads);
    const sample: Sample = {
      wall: Math.round(wall),
      self: Math.round(selfAt - s0),
      server: Math.round(serverAt - v0),
      ...split,
      from,
      to,
    };
    console.log(`SAMPLE ${JSON.stringify(sample)}`);
  }
}
