// preflightCluster end to end: real Temporal dev server, real worker, real sshd on lab hosts.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/index.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { createLab, type Lab } from '../../lab/index.js';
import { planPreflight } from '../../src/plan/preflight.js';
import type { CheckResult, PreflightReport } from '../../src/plan/types.js';
import { createKubeadmHaWorker } from '../../src/worker.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { readActivityLog } from '../../src/worker/activity-log.js';
import { recordHistoryIfAsked } from '../support/record-history.js';
import { connectTemporal, uniqueQueue } from './helpers.js';

let lab: Lab;
let inventory: Inventory;
let temporal: Awaited<ReturnType<typeof connectTemporal>>;

async function runPreflight(
  inv: Inventory = inventory,
  activityLogFile?: string,
  historyName?: string,
): Promise<PreflightReport> {
  const taskQueue = uniqueQueue('preflight');
  const w = await createKubeadmHaWorker({
    connection: temporal.native,
    taskQueue,
    // The worker trusts the lab inventory's known_hosts and key; a modified `inv` only changes the plan.
    sshTrust: sshTrustOf(inventory),
    ...(activityLogFile && { activityLogFile }),
  });
  const workflowId = `${inv.cluster.name}/preflight/${taskQueue}`;
  const run = temporal.client.workflow.execute('preflightCluster', {
    taskQueue,
    workflowId,
    args: [{ inventory: inv }],
  });
  const report = (await w.run(run)) as PreflightReport;
  if (historyName) await recordHistoryIfAsked(workflowId, historyName);
  return report;
}

const find = (r: PreflightReport, host: string, check: string): CheckResult | undefined =>
  r.results.find((x) => x.host === host && x.check === check);

beforeAll(async () => {
  lab = await createLab({ hosts: 4 });
  inventory = (await loadInventory(await lab.writeInventory())).inventory;
  temporal = await connectTemporal();
});

afterAll(async () => {
  await temporal?.close();
  await lab?.destroy();
});

describe('preflight on lab hosts', () => {
  it('runs every planned check on every host and passes prepared hosts', async () => {
    // The replay fixture of a preflight whose checks after the first are local activities (patch preflight-local-checks)
    // and whose first check on each host is the clock (patch preflight-clock-first).
    const log = join(lab.dir, 'activity-log-all.jsonl');
    const report = await runPreflight(inventory, log, 'preflight-4-hosts-clock-first');
    // Each host's first check is its clock, alone: the one that opens the connection.
    const starts = readActivityLog(await readFile(log, 'utf8')).filter((e) => e.event === 'start');
    for (const h of lab.hosts)
      expect(starts.find((e) => e.subject?.startsWith(`${h.name}/`))?.subject).toBe(`${h.name}/clock`);
    const planned = planPreflight(inventory).hosts.reduce((n, h) => n + h.steps.length, 0);
    expect(report.results.filter((r) => r.check !== 'unique-identity')).toHaveLength(planned);
    expect(report.results.filter((r) => r.status === 'fail')).toEqual([]);
    expect(report.ok).toBe(true);
    // Facts come from the hosts themselves: each reports its own hostname and a distinct machine-id.
    const ids = lab.hosts.map((h) => find(report, h.name, 'identity')?.facts?.machineId);
    expect(new Set(ids).size).toBe(lab.hosts.length);
    expect(find(report, 'h1', 'hostname')?.status).toBe('pass');
    expect(find(report, 'h1', 'ports')?.message).toContain('6443');
    expect(find(report, 'h1', 'vip-subnet')?.message).toContain(lab.vip);
  });

  it('fails a host whose ip_forward is off and names the sysctl', async () => {
    await lab.exec('h2', 'sysctl -qw net.ipv4.ip_forward=0');
    try {
      const report = await runPreflight();
      expect(find(report, 'h2', 'sysctl')).toMatchObject({ status: 'fail' });
      expect(find(report, 'h2', 'sysctl')?.message).toContain('net.ipv4.ip_forward=0');
      expect(find(report, 'h1', 'sysctl')?.status).toBe('pass');
      expect(report.ok).toBe(false);
    } finally {
      await lab.exec('h2', 'sysctl -qw net.ipv4.ip_forward=1');
    }
  });

  it('names the process holding a required port', async () => {
    await lab.exec('h1', '{ setsid nohup python3 -m http.server 6443 --bind 0.0.0.0 </dev/null >/dev/null 2>&1 & }');
    try {
      // Wait until the listener is really up before checking (poll, no sleep).
      for (let i = 0; i < 100; i++) {
        if ((await lab.exec('h1', 'ss -Htln sport = :6443')).stdout.includes('6443')) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const report = await runPreflight();
      expect(find(report, 'h1', 'ports')).toMatchObject({ status: 'fail' });
      expect(find(report, 'h1', 'ports')?.message).toMatch(/6443 \(python3/);
    } finally {
      // [.] keeps pkill from matching (and killing) the shell that runs it, whose own command line holds the pattern.
      await lab.exec('h1', 'pkill -f "http[.]server 6443" || true');
    }
  });

  it('refuses a host whose key changed, without retrying, and skips its other checks', async () => {
    const original = await readFile(lab.knownHostsPath, 'utf8');
    // Give h3 the key of h1 in known_hosts: exactly what a man in the middle would look like.
    const h1 = lab.hosts[0]!;
    const h3 = lab.hosts[2]!;
    const h1Key = original
      .split('\n')
      .find((l) => l.startsWith(`${h1.address} `))!
      .split(' ')
      .slice(1)
      .join(' ');
    const forged = original
      .split('\n')
      .map((l) => (l.startsWith(`${h3.address} `) ? `${h3.address} ${h1Key}` : l))
      .join('\n');
    await writeFile(lab.knownHostsPath, forged);
    try {
      const log = join(lab.dir, 'activity-log.jsonl');
      const report = await runPreflight(inventory, log);
      const first = report.results.find((r) => r.host === 'h3');
      expect(first?.status).toBe('fail');
      expect(first?.message).toContain('host key changed');
      // Non-retryable: exactly one attempt ran on h3, where a transient failure gets three.
      const h3Runs = readActivityLog(await readFile(log, 'utf8')).filter(
        (e) => e.subject?.startsWith('h3/') && e.event === 'start',
      );
      expect(h3Runs.map((e) => e.attempt)).toEqual([1]);
      expect(report.results.filter((r) => r.host === 'h3')).toHaveLength(1);
      expect(find(report, 'h1', 'os')?.status).toBe('pass');
    } finally {
      await writeFile(lab.knownHostsPath, original);
    }
  });

  it('reports an unreachable host and still finishes the others', async () => {
    await lab.stopHost('h4');
    try {
      const report = await runPreflight();
      const h4 = report.results.filter((r) => r.host === 'h4');
      expect(h4).toHaveLength(1);
      expect(h4[0]?.message).toMatch(/unreachable/);
      expect(find(report, 'h2', 'os')?.status).toBe('pass');
    } finally {
      await lab.startHost('h4');
    }
  });
});
