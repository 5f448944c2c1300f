// `kubeadm2ha runs --cluster X`, end to end: the real CLI (bin script, from source) against the run's Temporal dev
// server lists runs by the summary their start set (decoded through our codec), as the Web UI does, and by workflow
// type for a run started without one; --json gives both. The runs are started by the real CLI on a task queue nobody
// polls (nothing runs, no host is contacted), so running ones also show what to do about the missing worker.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './cli-process.js';
import { connectTemporal, temporalAddress } from './helpers.js';
import { startedRuns, startListedRuns, type StartedRuns } from './started-run.js';

let dir: string;
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let runs: StartedRuns;
const cluster = `runs-${randomUUID().slice(0, 6)}`;
const bare = `${cluster}/no-summary`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-runs-list-'));
  runs = startedRuns(dir);
  temporal = await connectTemporal();
});

afterAll(async () => {
  await runs?.stop();
  for (const id of [...(runs?.ids ?? []), bare])
    await temporal?.client.workflow
      .getHandle(id)
      .terminate('runs-list test done')
      .catch(() => {});
  await temporal?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Listed {
  workflowId: string;
  operation: string;
  summary?: string;
  status: string;
  note?: string;
}

describe('kubeadm2ha runs', () => {
  it('lists each run by its summary (the workflow type when it has none); --json has both', async () => {
    const { snapshot, push } = await startListedRuns(runs, temporal.client, cluster, bare);

    const common = ['runs', '--cluster', cluster, '--address', temporalAddress()];
    const [table, json] = await Promise.all([cli(common, 120_000), cli([...common, '--json'], 120_000)]);
    expect(table.code, table.stderr).toBe(0);
    expect(json.code, json.stderr).toBe(0);

    const lines = table.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const time = '\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z';
    const line = (re: string) => lines.find((l) => new RegExp(re).test(l));
    expect(line(`^RUNNING +${time} {2}etcd snapshot of ${cluster} {2}no worker is serving it`)).toBeDefined();
    expect(line(`^TERMINATED +${time} {2}images push of ${cluster} \\(1\\.34\\.12\\)$`)).toBeDefined();
    expect(
      line(`^RUNNING +${time} {2}preflightCluster \\(cluster ${cluster}\\) {2}no worker is serving it`),
    ).toBeDefined();
    // Newest first.
    expect(lines[0]).toContain('preflightCluster');

    const listed = JSON.parse(json.stdout) as Listed[];
    const byId = new Map(listed.map((r) => [r.workflowId, r]));
    expect(byId.get(snapshot)).toMatchObject({
      operation: 'snapshotEtcd',
      summary: `etcd snapshot of ${cluster}`,
      status: 'RUNNING',
    });
    expect(byId.get(push)).toMatchObject({
      operation: 'transferImages',
      summary: `images push of ${cluster} (1.34.12)`,
      status: 'TERMINATED',
    });
    expect(byId.get(bare)).toMatchObject({ operation: 'preflightCluster', status: 'RUNNING' });
    expect(byId.get(bare)).not.toHaveProperty('summary');
    process.stderr.write(
      `[runs-list] runs listed 3 runs (2 running, nobody serving them) in ${Math.round(table.ms)} ms, ` +
        `--json in ${Math.round(json.ms)} ms (concurrently, from source, under load)\n`,
    );
  });
});
