// `kubeadm2ha status --cluster X`, end to end: the real CLI (bin script, from source) against the run's Temporal dev
// server names each run by the summary its start set (decoded through our codec), as `kubeadm2ha runs` and the Web UI
// do, and by workflow type for a run started without one; --json has both. The runs are started by the real CLI on a
// task queue nobody polls (started-run.ts: nothing runs, no host is contacted).
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
const cluster = `status-${randomUUID().slice(0, 6)}`;
const bare = `${cluster}/no-summary`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-status-summary-'));
  runs = startedRuns(dir);
  temporal = await connectTemporal();
});

afterAll(async () => {
  await runs?.stop();
  for (const id of [...(runs?.ids ?? []), bare])
    await temporal?.client.workflow
      .getHandle(id)
      .terminate('status-summary test done')
      .catch(() => {});
  await temporal?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kubeadm2ha status', () => {
  it('names each run by its summary (the workflow type when it has none); --json has both', async () => {
    const { snapshot, push } = await startListedRuns(runs, temporal.client, cluster, bare);

    const common = ['status', '--cluster', cluster, '--address', temporalAddress()];
    const [table, json] = await Promise.all([cli(common, 120_000), cli([...common, '--json'], 120_000)]);
    expect(table.code, table.stderr).toBe(0);
    expect(json.code, json.stderr).toBe(0);

    // Head lines start at column 0; what follows a run (note, progress, link) is indented.
    const heads = table.stdout.split('\n').filter((l) => /^\S/.test(l));
    expect(heads, table.stdout).toHaveLength(3);
    const time = '\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z';
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    expect(heads).toContainEqual(
      expect.stringMatching(new RegExp(`^RUNNING +${time} {2}etcd snapshot of ${cluster} {2}${esc(snapshot)}$`)),
    );
    expect(heads).toContainEqual(
      expect.stringMatching(
        new RegExp(`^TERMINATED +${time} {2}images push of ${cluster} \\(1\\.34\\.12\\) {2}${esc(push)}$`),
      ),
    );
    expect(heads).toContainEqual(expect.stringMatching(new RegExp(`^RUNNING +${time} {2}preflightCluster {2}${esc(bare)}$`)));
    expect(table.stdout).not.toMatch(/snapshotEtcd|transferImages/);

    const listed = JSON.parse(json.stdout) as { workflowId: string; operation: string; summary?: string }[];
    const byId = new Map(listed.map((r) => [r.workflowId, r]));
    expect(byId.get(snapshot)).toMatchObject({ operation: 'snapshotEtcd', summary: `etcd snapshot of ${cluster}` });
    expect(byId.get(push)).toMatchObject({
      operation: 'transferImages',
      summary: `images push of ${cluster} (1.34.12)`,
    });
    expect(byId.get(bare)).toMatchObject({ operation: 'preflightCluster' });
    expect(byId.get(bare)).not.toHaveProperty('summary');
  });
});
