import { describe, expect, it } from 'vitest';
import { Inventory } from '../../../src/inventory/schema.js';
import {
  describeEtcdRestorePlan,
  planEtcdRestore,
  planEtcdRestoreRunbook,
  stampOf,
} from '../../../src/plan/etcd-restore.js';
import type { HostPhase, OncePhase } from '../../../src/plan/runbook.js';

const inv = Inventory.parse({
  cluster: { name: 'lab', kubernetesVersion: '1.32.4', vip: { address: '10.200.1.100' } },
  hosts: [
    { name: 'm1', address: '10.200.1.11', roles: ['primary-master'] },
    { name: 'e1', address: '10.200.1.21', roles: ['etcd'] },
    { name: 'e2', address: '10.200.1.22', roles: ['etcd'] },
    { name: 'e3', address: '10.200.1.23', roles: ['etcd'] },
  ],
});

describe('etcd restore plan', () => {
  it('stamps without colons or fractions, sortable', () => {
    expect(stampOf(new Date('2026-12-02T17:35:01.789Z'))).toBe('20261202T173501Z');
  });

  it('restores every member under its own name and peer URL with a new token, keeping each data dir aside', () => {
    const p = planEtcdRestore(inv, '20261202T173501Z');
    expect(p.initialClusterToken).toBe('lab-etcd-restore-20261202t173501z');
    expect(p.initialClusterToken).not.toBe(p.members[0]!.config.initialClusterToken);
    expect(p.members.map((m) => [m.config.name, m.config.initialAdvertisePeerUrls, m.previousDataDir])).toEqual([
      ['e1', ['https://10.200.1.21:2380'], '/var/lib/etcd.before-restore-20261202T173501Z'],
      ['e2', ['https://10.200.1.22:2380'], '/var/lib/etcd.before-restore-20261202T173501Z'],
      ['e3', ['https://10.200.1.23:2380'], '/var/lib/etcd.before-restore-20261202T173501Z'],
    ]);
    expect(p.members[0]!.config.initialCluster).toBe(
      'e1=https://10.200.1.21:2380,e2=https://10.200.1.22:2380,e3=https://10.200.1.23:2380',
    );
    expect(p.hosts.map((h) => h.steps.map((s) => s.id))).toEqual(Array(3).fill(['stop', 'restore', 'start', 'health']));
    expect(describeEtcdRestorePlan(p, '/s.db')[0]).toBe(
      'restore /s.db into etcd of cluster lab: stop all 3 member(s), restore each, start all, health gate',
    );
  });

  it('the runbook: file checked, all stopped before any restore, each restored from the checked file, all started, health', () => {
    const p = planEtcdRestore(inv, '20261202T173501Z');
    const r = planEtcdRestoreRunbook(inv, p, { snapshot: { path: '/s.db' }, healthTimeoutSeconds: 60 });
    expect(r.onFailure).toBe('decide');
    expect(r.phases.map((x) => [x.id, x.kind])).toEqual([
      ['verify', 'once'],
      ['stop', 'hosts'],
      ['restore', 'hosts'],
      ['start', 'hosts'],
      ['health', 'once'],
    ]);
    const verify = r.phases[0] as OncePhase;
    expect(verify.steps.map((s) => [s.id, s.args.path ?? s.args.timeoutSeconds])).toEqual([
      ['verifyEtcdSnapshotFile', '/s.db'],
      ['waitEtcdHealthy', 5],
    ]);
    for (const phase of r.phases.slice(1, 4) as HostPhase[]) {
      expect(phase.rollout).toEqual({ kind: 'parallel' });
      expect(phase.hosts.map((h) => [h.target.name, h.maySkip])).toEqual([
        ['e1', false],
        ['e2', false],
        ['e3', false],
      ]);
    }
    const restore = (r.phases[2] as HostPhase).hosts[1]!.steps[0]!;
    expect(restore.class).toBe('transfer');
    expect(restore.args).toMatchObject({ initialClusterToken: p.initialClusterToken, stamp: p.stamp });
    expect(restore.bind).toEqual({
      snapshot: {
        record: {
          path: { from: 'verifyEtcdSnapshotFile', field: 'path' },
          sha256: { from: 'verifyEtcdSnapshotFile', field: 'sha256' },
        },
      },
    });
    expect((r.phases[4] as OncePhase).steps[0]).toMatchObject({
      id: 'waitEtcdRestored',
      args: { timeoutSeconds: 60, rounds: 3 },
    });
  });

  it('refuses stacked etcd (kubeadm owns it)', () => {
    const stacked = Inventory.parse({ ...inv, cluster: { ...inv.cluster, etcd: { mode: 'stacked' } } });
    expect(() => planEtcdRestore(stacked, '20261202T173501Z')).toThrow(/stacked/);
  });
});
