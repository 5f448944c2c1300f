import { describe, expect, it } from 'vitest';
import { Inventory } from '../../../src/inventory/schema.js';
import { describeEtcdRestorePlan, planEtcdRestore, stampOf } from '../../../src/plan/etcd-restore.js';

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

  it('refuses stacked etcd (kubeadm owns it)', () => {
    const stacked = Inventory.parse({ ...inv, cluster: { ...inv.cluster, etcd: { mode: 'stacked' } } });
    expect(() => planEtcdRestore(stacked, '20261202T173501Z')).toThrow(/stacked/);
  });
});
