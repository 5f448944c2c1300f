// Bench section: the preflight command sequence (about a dozen read-only probes per host) on 20 lab hosts, run by
// our workflow (real Temporal dev server, real worker, ssh2) and by ansible-playbook -f 20 (Debian's ansible-core,
// pipelining on, fact gathering off: its fastest honest setup) on the same hosts in the same run, and the ssh2-only
// floor (the same probes in the workflow's order, no Temporal). Both sides start each round cold (new SSH connections) and then reuse them
// as they do by default: our pool keeps one connection per host; Ansible its ControlMaster/ControlPersist sockets,
// in a fresh control_path_dir per round.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { probes } from '../../src/activities/preflight-checks.js';
import { ProbeBatcher } from '../../src/activities/preflight-batch.js';
import type { Inventory } from '../../src/inventory/schema.js';
import type { Lab } from '../../lab/index.js';
import { planPreflight } from '../../src/plan/preflight.js';
import type { PreflightReport } from '../../src/plan/types.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { SshPool } from '../../src/ssh/index.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { createKubeadmHaWorker } from '../../src/worker.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { installRedactingLogger } from '../../src/worker/runtime-logging.js';
import { threadCpu, threadSplit, withCpu } from '../cpu.js';
import { formatStats, historyStats, type HistoryStats } from '../history-stats.js';
import { WORKFLOW_TASK_TIMEOUT } from '../../src/temporal/workflow-start.js';
import { median, ms, ratio, type Section } from '../table.js';

const run = promisify(execFile);
const HOSTS = Number(process.env.BENCH_HOSTS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/**
 * The floor: the same probe scripts over ssh2 with no Temporal at all, hosts in parallel and each host's probes in
 * the workflow's order (`warm`: on connections already open). What is left between this and `ours` is the price of durability: every
 * check recorded as an activity in history.
 */
export async function floor(inv: Inventory, warm?: SshPool): Promise<number> {
  const pool = warm ?? new SshPool(inv.ssh);
  const batcher = new ProbeBatcher();
  const t0 = performance.now();
  await Promise.all(
    planPreflight(inv).hosts.map(async (h) => {
      const session = pool.session({ name: h.target.name, address: h.target.address });
      // The activity's transport: probes that start together share one shell, the clock probe runs alone.
      const probe = (step: (typeof h.steps)[number]) =>
        step.id === 'clock'
          ? session.run({ script: probes[step.id].script(step) }, { allowNonZero: true })
          : batcher.run(h.target.name, session, probes[step.id].script(step), { allowNonZero: true });
      // The workflow's order: the first probe alone (it opens the connection), then the rest at once.
      const [first, ...rest] = h.steps;
      if (first) await probe(first);
      await Promise.all(rest.map(probe));
    }),
  );
  const ms = performance.now() - t0;
  if (!warm) await pool.closeAll();
  return ms;
}

interface Round {
  ms: number;
  /** CPU ms of the bench process (its worker, client and ssh2) and of the Temporal server over the same span. */
  cpu: { self: number; server: number };
  /** The bench process's CPU by thread, from the workflow start to its result (see threadSplit). */
  threads: ReturnType<typeof threadSplit>;
  stats: HistoryStats;
}

async function ours(inv: Inventory, address: string, serverPid: number | undefined, round: number): Promise<Round> {
  installRedactingLogger();
  const native = await NativeConnection.connect({ address });
  // The client on the worker's connection, as the CLI starts a run its embedded worker serves: the start asks for the
  // first workflow task in its reply (eager start), so it skips a trip through matching.
  const client = new Client({ connection: native, dataConverter: dataConverter() });
  const taskQueue = `bench-${process.pid}-${round}`;
  const existing = threadCpu();
  const w = await createKubeadmHaWorker({ connection: native, taskQueue, sshTrust: sshTrustOf(inv) });
  // The threads Worker.create started that are not sdk-core's: its workflow thread (a worker_threads Worker).
  const workflowThreads = new Set(
    [...threadCpu()].filter(([tid, t]) => !existing.has(tid) && !t.name.startsWith('tokio')).map(([tid]) => tid),
  );
  const t0 = performance.now();
  const before = threadCpu();
  let atResult = before;
  const { value, self, server } = await withCpu(serverPid, async () => {
    const handle = await client.workflow.start('preflightCluster', {
      taskQueue,
      workflowId: `bench/${taskQueue}`,
      args: [{ inventory: inv }],
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
      requestEagerStart: true,
    });
    // Read before the worker shuts down: its workflow thread ends then, and an ended thread cannot be read.
    const result = handle.result().then((r: PreflightReport) => {
      atResult = threadCpu();
      return r;
    });
    return { handle, report: (await w.run(result)) as PreflightReport };
  });
  const ms = performance.now() - t0; // w.run also closed the SSH pool: the next round starts cold again
  const stats = await historyStats(value.handle);
  await native.close();
  const { report } = value;
  if (report.summary.fail)
    throw new Error(
      `our preflight failed checks: ${JSON.stringify(report.results.filter((r) => r.status === 'fail'))}`,
    );
  return { ms, cpu: { self, server }, threads: threadSplit(before, atResult, workflowThreads), stats };
}

/**
 * One worker for every round, as in production (the worker is a service), with its SSH connections closed after
 * each round (outside the clock), so every round opens fresh connections as Ansible opens fresh control sockets.
 * `once` times one preflight from the workflow start to its result. Warmed by one run before the first round.
 */
async function longRunningWorker(inv: Inventory, address: string) {
  // The client on its own connection, as a CLI in another process starts a run a service worker serves (no eager
  // start: that needs the worker in the starting process).
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, dataConverter: dataConverter() });
  installRedactingLogger();
  const native = await NativeConnection.connect({ address });
  const taskQueue = `bench-long-running-${process.pid}`;
  const deps = createSshDeps(sshTrustOf(inv));
  const w = await createKubeadmHaWorker({ connection: native, taskQueue, deps });
  let stop!: () => void;
  const running = w.run(new Promise<void>((resolve) => (stop = resolve)));
  let runs = 0;
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    const report = (await client.workflow.execute('preflightCluster', {
      taskQueue,
      workflowId: `bench/${taskQueue}/${runs++}`,
      args: [{ inventory: inv }],
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
    })) as PreflightReport;
    const ms = performance.now() - t0;
    await deps.close(); // the next round opens fresh connections
    if (report.summary.fail) throw new Error('our preflight (long-running worker) failed checks');
    return ms;
  };
  await once();
  return {
    once,
    async close() {
      stop();
      await running;
      await native.close();
      await connection.close();
    },
  };
}

/** The same probes, as one `shell` task per check, each limited to the hosts our plan runs it on. */
async function writeAnsible(lab: Lab, inv: Inventory, dir: string): Promise<string> {
  const plan = planPreflight(inv);
  const lines = ['[all]'];
  for (const h of inv.hosts) lines.push(`${h.name} ansible_host=${h.address}`);
  lines.push(
    '[all:vars]',
    'ansible_user=root',
    `ansible_ssh_private_key_file=${lab.privateKeyPath}`,
    `ansible_ssh_common_args=-o UserKnownHostsFile=${lab.knownHostsPath} -o StrictHostKeyChecking=yes`,
    'ansible_python_interpreter=/usr/bin/python3',
  );
  await writeFile(join(dir, 'inventory.ini'), lines.join('\n') + '\n');
  const firstHost = plan.hosts[0]!;
  const tasks: string[] = [];
  const allChecks = [...new Map(plan.hosts.flatMap((h) => h.steps.map((s) => [s.id, s]))).values()];
  for (const check of allChecks) {
    const onHosts = plan.hosts.filter((h) => h.steps.some((s) => s.id === check.id)).map((h) => h.target.name);
    const spec = firstHost.steps.find((s) => s.id === check.id) ?? check;
    tasks.push(
      `    - name: ${check.id}`,
      `      shell: ${JSON.stringify(probes[check.id].script(spec))}`,
      `      changed_when: false`,
      `      when: inventory_hostname in ${JSON.stringify(onHosts)}`,
    );
  }
  await writeFile(
    join(dir, 'preflight.yml'),
    ['- hosts: all', '  gather_facts: false', '  tasks:', ...tasks].join('\n') + '\n',
  );
  await writeFile(
    join(dir, 'ansible.cfg'),
    [
      '[defaults]',
      'forks = 20',
      'gathering = explicit',
      `local_tmp = ${dir}/tmp`,
      'stdout_callback = dense',
      '[ssh_connection]',
      'pipelining = True',
      'ssh_args = -o ControlMaster=auto -o ControlPersist=60s',
    ].join('\n') + '\n',
  );
  return dir;
}

async function ansible(dir: string, round: number): Promise<number> {
  const t0 = performance.now();
  await run('ansible-playbook', ['-f', String(HOSTS), '-i', 'inventory.ini', 'preflight.yml'], {
    cwd: dir,
    env: {
      ...process.env,
      ANSIBLE_CONFIG: join(dir, 'ansible.cfg'),
      ANSIBLE_HOME: join(dir, 'home'),
      ANSIBLE_SSH_CONTROL_PATH_DIR: join(dir, `cp-${round}`),
    },
    maxBuffer: 64 << 20,
  });
  return performance.now() - t0;
}

const formatThreads = (t: Round['threads']): string =>
  `main ${ms(t.main)}, workflow ${ms(t.workflow)}, core ${ms(t.core)}, other ${ms(t.other)}`;

export const ansibleSection: Section = {
  name: 'preflight vs Ansible',
  hosts: HOSTS,
  explain: [
    `**Wall times** (median of ${ROUNDS} rounds, each round: ours on a new worker, ours on the long-running ` +
      'worker, Ansible, the floor). *kubeadm2ha*: ' +
      "`preflightCluster` on a fresh worker (created before the clock starts) against the run's dev server, from the " +
      'workflow start to its result, including opening every SSH connection and closing them (the CLI with its ' +
      "embedded worker does the same). A host's first check is an activity, its other checks local activities " +
      '(one marker each in history). *Ansible*: `ansible-playbook -f 20` running the same probe scripts, one ' +
      "`shell` task per check. *Floor*: the same probes over ssh2 in the workflow's order and transport (first " +
      'probe alone, then the rest at once in one shell), no Temporal: what is left between it and ours is the ' +
      'price of recording every check.',
    '**CPU** (user + system, all threads, ended ones included; Linux /proc): *kubeadm2ha* is the bench process ' +
      '(worker, client, ssh2) plus the Temporal dev server over the same span, in the round whose wall time is ' +
      'the median; *Ansible* is ansible-playbook and every process it waited for (forks, ssh clients); the ' +
      "ControlMaster processes that outlive it are not counted, nor is any sshd on the hosts. Ansible's own CPU " +
      "grows with its wall time (its main loop polls), so neither ratio is free of the machine's load: the wall " +
      'ratio has so far come out larger the busier the machine was, and the CPU ratio is the steadier ' +
      'of the two.',
    '**CPU by thread** (same round, Linux /proc/self/task, workflow start to result): *main* is SSH (ssh2), the ' +
      'activities, the SDK between sdk-core and the sandbox and the payload codec; *workflow* the thread the ' +
      "worker runs workflow code on (the SDK's sandbox; a new worker per round, so its code starts cold); *core* " +
      "sdk-core's Rust threads; *other* V8's background compiler and GC and libuv's pool. Workflow stack traces " +
      'are off (README, KUBEADM2HA_WORKFLOW_STACK_TRACES): with them on, the SDK takes one per promise and the ' +
      'workflow and other threads cost about 150 ms more per preflight.',
    '**Long-running worker**: the same workflow on one worker that runs every round (as `kubeadm2ha worker` ' +
      'does as a service), after one unrecorded run; its SSH connections are closed after each round, outside ' +
      'the clock, so each round pays every handshake again, as Ansible does with a fresh control_path_dir. ' +
      'What it leaves out beside the fresh-worker row: the first workflow task on a cold workflow sandbox ' +
      '(V8 compiling the workflow code) and closing the connections inside the clock.',
    "**Workflow tasks**: from the median round's history: WorkflowTaskStarted to Completed is time on the worker " +
      '(a task that runs local activities stays open until they end); a timed-out task would be run again.',
  ],
  async run(ctx) {
    const inv = await ctx.inventory(HOSTS);
    const dir = join(ctx.lab.dir, 'ansible');
    await mkdir(dir, { recursive: true });
    await writeAnsible(ctx.lab, inv, dir);
    const perHost = planPreflight(inv).hosts.map((h) => h.steps.length);
    const a: number[] = [];
    const aCpu: number[] = [];
    const o: Round[] = [];
    const f: number[] = [];
    const fCpu: number[] = [];
    const l: number[] = [];
    const lCpu: number[] = [];
    const long = await longRunningWorker(inv, ctx.devAddress);
    for (let i = 0; i < ROUNDS; i++) {
      const r = await ours(inv, ctx.devAddress, ctx.devPid, i);
      o.push(r);
      const rl = await withCpu(ctx.devPid, () => long.once());
      l.push(rl.value);
      lCpu.push(rl.self + rl.server);
      const ra = await withCpu(undefined, () => ansible(dir, i));
      a.push(ra.value);
      aCpu.push(ra.children + ra.self);
      const rf = await withCpu(undefined, () => floor(inv));
      f.push(rf.value);
      fCpu.push(rf.self);
      ctx.log(
        `  round ${i + 1} (load ${loadavg()[0]!.toFixed(1)}): kubeadm2ha ${ms(r.ms)} (cpu ${ms(r.cpu.self)} + server ` +
          `${ms(r.cpu.server)}), ansible ${ms(ra.value)} (cpu ${ms(aCpu[i]!)}), ssh2-only floor ${ms(rf.value)} ` +
          `(cpu ${ms(rf.self)}); long-running worker ${ms(rl.value)} (cpu with server ${ms(lCpu[i]!)})`,
      );
      ctx.log(`    our run: ${formatStats(r.stats)}; cpu by thread: ${formatThreads(r.threads)}`);
    }
    await long.close();
    // The round whose wall time is the median, so its CPU and history figures describe the same run.
    const mid = [...o].sort((x, y) => x.ms - y.ms)[Math.floor(o.length / 2)]!;
    const [mo, ma, mf] = [mid.ms, median(a), median(f)];
    const oursCpu = mid.cpu.self + mid.cpu.server;
    const what = `${HOSTS} hosts, ${Math.min(...perHost)}-${Math.max(...perHost)} probes each, median of ${ROUNDS}`;
    const taskNote = mid.stats.timedOut
      ? `; ${mid.stats.timedOut} workflow task(s) timed out and ran again`
      : '; no workflow task timed out';
    return [
      {
        metric: `preflight, kubeadm2ha workflow`,
        value: ms(mo),
        note: `${what}; each round a new worker and new SSH connections (as the CLI's embedded worker)`,
      },
      {
        metric: `preflight, ansible-playbook -f ${HOSTS}`,
        value: ms(ma),
        note: 'pipelining, no facts, ControlPersist (fresh control sockets each round)',
      },
      { metric: 'orchestration vs Ansible', value: ratio(ma / mo), note: 'wall time; target >= 20x' },
      {
        metric: 'preflight, kubeadm2ha workflow, long-running worker',
        value: ms(median(l)),
        note:
          `${HOSTS} hosts, median of ${ROUNDS}; one worker for all rounds (production: a service), warmed by one ` +
          `run; SSH connections closed after each round, so each opens fresh ones (as Ansible's fresh control ` +
          `sockets); CPU (worker process + dev server) ${ms(median(lCpu))}`,
      },
      {
        metric: 'orchestration vs Ansible, long-running worker',
        value: ratio(ma / median(l)),
        note: 'wall time; target >= 20x',
      },
      {
        metric: 'ssh2-only floor (same probes, no Temporal)',
        value: ms(mf),
        note: `Ansible/floor ${ratio(ma / mf)}; durability costs ${ms(mo - mf)}`,
      },
      {
        metric: 'CPU per preflight: kubeadm2ha (worker + Temporal server)',
        value: ms(oursCpu),
        note: `worker process ${ms(mid.cpu.self)}, dev server ${ms(mid.cpu.server)} (the median round); sshd on the hosts not counted`,
      },
      {
        metric: 'CPU of our preflight by thread',
        value: formatThreads(mid.threads),
        note:
          'worker process, workflow start to result (the median round): main (SSH, activities, the SDK between ' +
          "sdk-core and the sandbox, payload codec), workflow (the sandbox's thread), core (sdk-core's Rust " +
          "threads), other (V8's background compiler and GC, libuv); its shutdown after the result is not in it",
      },
      {
        metric: 'CPU per preflight: ansible-playbook',
        value: ms(median(aCpu)),
        note: 'ansible-playbook and its forks; ssh ControlMaster processes outlive the run and are not counted',
      },
      { metric: 'CPU per preflight: ssh2-only floor', value: ms(median(fCpu)) },
      {
        metric: 'orchestration vs Ansible, by CPU',
        value: ratio(median(aCpu) / oursCpu),
        note: 'Ansible CPU / ours: the ratio wall time approaches where CPU is the bottleneck; moves less with load',
      },
      {
        metric: 'workflow tasks of our preflight',
        value: String(mid.stats.tasks),
        note:
          `longest ${ms(mid.stats.longestTaskMs)} on the worker, ${mid.stats.activities} activities, ` +
          `${mid.stats.markers} local-activity markers, ${mid.stats.events} events${taskNote}`,
      },
    ];
  },
};
