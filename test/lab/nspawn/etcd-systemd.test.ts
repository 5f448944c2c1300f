// The etcd setup workflow on real systemd: a real Temporal dev server and worker, three nspawn hosts whose PID 1 is
// Debian's systemd, Debian's etcd 3.4 from the hosts' packages. The service manager is detected (not configured) as
// systemd; etcd runs as our unit /etc/systemd/system/etcd.service (Type=notify), which replaces Debian's own unit
// that apt left running. Then what only a real init system does: `systemctl restart`, a crash restarted by
// systemd itself (Restart=always), and a reboot that brings the enabled unit back without us.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/inventory/index.js';
import type { Inventory } from '../../../src/inventory/schema.js';
import { createNspawnLab, type NspawnLab } from '../../../lab/nspawn/index.js';
import type { EtcdSetupReport } from '../../../src/plan/etcd.js';
import { loadWorkflowBundle } from '../../../src/temporal/bundle.js';
import { connectTemporal, uniqueQueue } from '../../e2e/helpers.js';
import { pollUntil } from '../../support/poll.js';
import { runOnLabWorker } from '../../support/lab-worker.js';

let lab: NspawnLab;
let inventory: Inventory;
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let bundle: WorkflowBundleOption;
let scratch: string;
const previousStateDir = process.env.KUBEADM2HA_STATE_DIR;

async function setupEtcd(): Promise<{ report: EtcdSetupReport; ms: number }> {
  const taskQueue = uniqueQueue('etcd-systemd');
  const { result: report, ms } = await runOnLabWorker<EtcdSetupReport>({
    temporal,
    bundle,
    inventory,
    workflowType: 'setupEtcdCluster',
    args: [{ inventory, healthTimeoutSeconds: 60 }],
    taskQueue,
    workflowId: `${inventory.cluster.name}/etcd/${taskQueue}`,
  });
  return { report, ms };
}

const sh = async (host: string, cmd: string): Promise<string> => (await lab.exec(host, cmd)).stdout.trim();
const mainPid = (host: string): Promise<string> => sh(host, 'systemctl show -p MainPID --value etcd');
const members = ['h1', 'h2', 'h3'];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'k2h-etcd-systemd-'));
  process.env.KUBEADM2HA_STATE_DIR = join(scratch, 'state');
  bundle = await loadWorkflowBundle();
  lab = await createNspawnLab({ hosts: 3 });
  inventory = (await loadInventory(await lab.writeInventory())).inventory;
  temporal = await connectTemporal();
});

afterAll(async () => {
  try {
    await temporal?.close();
  } finally {
    try {
      await lab?.destroy();
    } finally {
      if (previousStateDir === undefined) delete process.env.KUBEADM2HA_STATE_DIR;
      else process.env.KUBEADM2HA_STATE_DIR = previousStateDir;
      if (scratch) await rm(scratch, { recursive: true, force: true });
    }
  }
});

describe('setupEtcdCluster on nspawn hosts (real systemd as PID 1)', () => {
  it('detects systemd and runs every member as our etcd.service unit, replacing the one Debian started', async () => {
    // Before: Debian's unit from the package, running its single-node default.
    for (const h of members) {
      expect(await sh(h, 'systemctl show -p FragmentPath --value etcd')).toBe('/lib/systemd/system/etcd.service');
    }
    const { report, ms } = await setupEtcd();
    process.stderr.write(`[nspawn etcd] 3 members as systemd units, healthy: ${ms} ms\n`);
    expect(report.members.map((m) => m.name).sort()).toEqual(members);
    for (const h of report.hosts) {
      expect(h.serviceManager).toBe('systemd');
      expect(h.service).toBe('restarted'); // Debian's etcd was running: replaced by ours, not started beside it
    }
    for (const h of members) {
      const [active, enabled, fragment, type, exec] = (
        await sh(
          h,
          'systemctl is-active etcd; systemctl is-enabled etcd; systemctl show -p FragmentPath --value etcd; ' +
            'systemctl show -p Type --value etcd; cat /proc/$(systemctl show -p MainPID --value etcd)/cmdline | tr "\\0" " "',
        )
      ).split('\n');
      expect([active, enabled, fragment, type]).toEqual([
        'active',
        'enabled',
        '/etc/systemd/system/etcd.service',
        'notify',
      ]);
      expect(exec).toMatch(/^\/usr\/bin\/etcd --config-file \/etc\/etcd\/etcd.conf.yml/);
    }
  });

  it('survives `systemctl restart` of a member: a new process, notify-ready, and the health gate passes', async () => {
    const before = await mainPid('h2');
    // Blocking restart: with Type=notify systemctl returns only once etcd said READY=1 (it has rejoined its quorum).
    await lab.exec('h2', 'systemctl restart etcd');
    expect(await sh('h2', 'systemctl is-active etcd')).toBe('active');
    expect(await mainPid('h2')).not.toBe(before);
    const { report } = await setupEtcd();
    expect(report.changed).toBe(false);
    expect(report.restartedByHealthGate).toEqual([]);
    // The facts (read first) show every member healthy at the pinned version: nothing is planned or touched.
    expect(report.stepsRun).toBe(0);
    expect(report.hosts.every((h) => h.alreadyDone)).toBe(true);
  });

  it('a killed member is restarted by systemd itself (Restart=always), not by us', async () => {
    const before = await mainPid('h1');
    await lab.exec('h1', `kill -9 ${before}`);
    const after = await pollUntil(
      async () => {
        const pid = await mainPid('h1');
        return pid !== before && pid !== '0' && (await sh('h1', 'systemctl is-active etcd')) === 'active' && pid;
      },
      'systemd to restart etcd on h1 (RestartSec=5s)',
      30_000,
    );
    expect(Number(after)).toBeGreaterThan(0);
    expect(Number(await sh('h1', 'systemctl show -p NRestarts --value etcd'))).toBeGreaterThanOrEqual(1);
  });

  it('a rebooted host brings its enabled etcd unit back at boot, and a rerun finds nothing to do', async () => {
    await lab.stopHost('h3');
    await lab.startHost('h3');
    expect(await sh('h3', 'systemctl is-active etcd')).toBe('active');
    const { report } = await setupEtcd();
    expect(report.changed).toBe(false);
    expect(report.hosts.find((h) => h.name === 'h3')?.alreadyDone).toBe(true);
  });
});
