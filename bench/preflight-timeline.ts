// Where a preflight's wall time goes: one `preflightCluster` round on BENCH_HOSTS lab hosts (default 20) on a new
// worker (as the bench's "kubeadm2ha workflow" row and the CLI's embedded worker), then TIMELINE_WARM rounds more on
// the same worker with its SSH connections closed in between (a long-running worker, fresh handshakes). For each
// round it prints, in ms from the workflow start as the client saw it: the history's events (workflow tasks,
// activities, local-activity markers, by kind: first and last) and the worker's own activity log (each check's start
// and end, per host: the first check's end is the SSH connection done plus its probe). Not part of the table.
//
//   npx tsx bench/preflight-timeline.ts        (BENCH_HOSTS=20 TIMELINE_WARM=2)
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import proto from '@temporalio/proto';
const { temporal } = proto;
import { createLab } from '../lab/index.js';
import { writeLabInventory } from '../lab/inventory.js';
import { loadInventory } from '../src/inventory/index.js';
import { createSshDeps } from '../src/activities/ssh-deps.js';
import { sshTrustOf } from '../src/activities/ssh-trust.js';
import { startDevServer, stopDevServer } from '../src/temporal/dev-server.js';
import { freePort } from '../src/temporal/process-util.js';
import { dataConverter } from '../src/temporal/data-converter.js';
import { WORKFLOW_TASK_TIMEOUT } from '../src/temporal/workflow-start.js';
import { readActivityLog } from '../src/worker/activity-log.js';
import { installRedactingLogger } from '../src/worker/runtime-logging.js';
import { createKubeadmHaWorker } from '../src/worker.js';
import { loadavg } from 'node:os';

const HOSTS = Number(process.env.BENCH_HOSTS ?? 20);
const WARM = Number(process.env.TIMELINE_WARM ?? 2);

const time = (e: proto.temporal.api.history.v1.IHistoryEvent): number => {
  const t = e.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : 0;
};

const lab = await createLab({ hosts: HOSTS, readyTimeoutMs: 120_000 });
const server = { port: await freePort(), headless: true, dbFile: join(lab.dir, 't.db'), logLevel: 'error' as const };
try {
  const { address } = await startDevServer(server);
  const path = await writeLabInventory(join(lab.dir, 'inv.yaml'), lab.inventory());
  const inv = (await loadInventory(path)).inventory;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, dataConverter: dataConverter() });
  installRedactingLogger();
  const native = await NativeConnection.connect({ address });
  const taskQueue = `timeline-${process.pid}`;
  const log = join(lab.dir, 'activity-log.jsonl');
  const deps = createSshDeps(sshTrustOf(inv));
  const tc = performance.now();
  const w = await createKubeadmHaWorker({ connection: native, taskQueue, activityLogFile: log, deps });
  console.log(`Worker.create ${(performance.now() - tc).toFixed(0)} ms (before the clock)`);
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const running = w.run(stopped);
  for (let round = 0; round <= WARM; round++) {
    await rm(log, { force: true });
    const t0Wall = Date.now();
    const t0 = performance.now();
    const handle = await client.workflow.start('preflightCluster', {
      taskQueue,
      workflowId: `timeline/${taskQueue}/${round}`,
      args: [{ inventory: inv }],
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
    });
    const tStarted = performance.now() - t0;
    await handle.result();
    const wall = performance.now() - t0;
    const events = (await handle.fetchHistory()).events ?? [];
    const rel = (t: number) => (t - t0Wall).toFixed(0).padStart(5);
    console.log(
      `\n== round ${round} (${round === 0 ? 'new worker' : 'same worker, SSH closed'}), load ${loadavg()[0]!.toFixed(1)}: ` +
        `${wall.toFixed(0)} ms wall; client start() returned at ${tStarted.toFixed(0)} ms`,
    );
    // History: workflow tasks one by one, activities and markers by first/last per task.
    let group: { kind: string; first: number; last: number; n: number } | undefined;
    const flush = () => {
      if (group) console.log(`  ${rel(group.first)}..${rel(group.last)}  ${group.kind} x${group.n}`);
      group = undefined;
    };
    for (const e of events) {
      const kind = String(temporal.api.enums.v1.EventType[e.eventType ?? 0]).replace(/^EVENT_TYPE_/, '');
      const t = time(e);
      if (/^ACTIVITY|^MARKER/.test(kind)) {
        if (group?.kind !== kind) {
          flush();
          group = { kind, first: t, last: t, n: 0 };
        }
        group.last = t;
        group.n++;
      } else {
        flush();
        console.log(`  ${rel(t)}         ${kind}`);
      }
    }
    flush();
    // The worker's own view: each host's first check (connect + probe) and its other checks.
    const entries = readActivityLog(await readFile(log, 'utf8'));
    const at = (iso: string) => Date.parse(iso) - t0Wall;
    const firsts = entries.filter((e) => e.activityType === 'runPreflightCheck');
    const byHost = new Map<string, { start: number; end: number }[]>();
    for (const e of firsts) {
      const host = e.subject?.split('/')[0] ?? '?';
      const list = byHost.get(host) ?? [];
      if (e.event === 'start') list.push({ start: at(e.ts), end: NaN });
      else {
        const open = list.find((x) => Number.isNaN(x.end));
        if (open) open.end = at(e.ts);
      }
      byHost.set(host, list);
    }
    const firstEnd = [...byHost.values()].map((l) => l[0]!.end);
    const firstStart = [...byHost.values()].map((l) => l[0]!.start);
    const restStart = [...byHost.values()].flatMap((l) => l.slice(1).map((x) => x.start));
    const restEnd = [...byHost.values()].flatMap((l) => l.slice(1).map((x) => x.end));
    const span = (xs: number[]) => `${Math.min(...xs).toFixed(0)}..${Math.max(...xs).toFixed(0)}`;
    console.log(
      `  worker: first checks start ${span(firstStart)}, end (connected + probe) ${span(firstEnd)}; ` +
        `other checks start ${span(restStart)}, end ${span(restEnd)}`,
    );
    console.log(`SUMMARY round ${round} wall ${wall.toFixed(0)} load ${loadavg()[0]!.toFixed(1)}`);
    await deps.close(); // the next round opens fresh connections, as a new worker would
  }
  stop();
  await running;
  await native.close();
  await connection.close();
} finally {
  await stopDevServer(server).catch(() => undefined);
  await lab.destroy();
}
