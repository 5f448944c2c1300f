// The uninstall runbook as data: what `uninstall --dry-run` shows and the executor runs.
import { describe, expect, it } from 'vitest';
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';
import { describeRunbook, type HostPhase } from '../../../src/plan/runbook.js';
import { planUninstall } from '../../../src/plan/uninstall.js';

const input: InventoryInput = {
  cluster: { name: 'prod', kubernetesVersion: '1.34.12', vip: { address: '10.10.0.100' } },
  hosts: [
    { name: 'm1', address: '10.10.0.11', roles: ['primary-master', 'etcd'] },
    { name: 'm2', address: '10.10.0.12', roles: ['secondary-master', 'etcd'] },
    { name: 'e3', address: '10.10.0.13', roles: ['etcd'] },
    { name: 'w1', address: '10.10.0.21', roles: ['worker'] },
    { name: 'w2', address: '10.10.0.22', roles: ['worker'] },
  ],
};
const phase = (rb: ReturnType<typeof planUninstall>, id: string) => rb.phases.find((p) => p.id === id) as HostPhase;
const hostsOf = (p: HostPhase) => p.hosts.map((h) => h.target.name);

describe('planUninstall', () => {
  it('workers reset first, then masters, then the daemons; nothing drained', () => {
    const rb = planUninstall(Inventory.parse(input));
    expect(rb.operation).toBe('uninstall');
    expect(rb.phases.map((p) => p.id)).toEqual(['reset-workers', 'reset-masters', 'daemons']);
    expect(hostsOf(phase(rb, 'reset-workers'))).toEqual(['w1', 'w2']);
    expect(hostsOf(phase(rb, 'reset-masters'))).toEqual(['m1', 'm2']);
    expect(JSON.stringify(rb)).not.toMatch(/drain|cordon/);
  });

  it('external etcd: kubeadm skips remove-etcd-member, masters in parallel, etcd data and certificates on every member', () => {
    const rb = planUninstall(Inventory.parse(input), { purgePackages: true });
    const resets = [...phase(rb, 'reset-workers').hosts, ...phase(rb, 'reset-masters').hosts].map((h) => h.steps[0]!);
    expect(resets.every((s) => s.id === 'resetNode' && s.args.externalEtcd === true)).toBe(true);
    expect(resets.every((s) => s.args.removePackages === true)).toBe(true);
    expect(phase(rb, 'reset-masters').rollout).toEqual({ kind: 'parallel' });
    const daemons = phase(rb, 'daemons');
    expect(hostsOf(daemons)).toEqual(['m1', 'm2', 'e3']);
    const args = (h: string) => daemons.hosts.find((x) => x.target.name === h)!.steps[0]!.args;
    expect(args('m1')).toMatchObject({ keepalived: true, loadBalancer: true, etcd: { dataDir: '/var/lib/etcd' } });
    // The pure etcd host: no VIP or LB there, but its etcd CA and member certificates go (a stale CA would make the
    // next setup refuse a new one).
    expect(args('e3')).toMatchObject({ keepalived: false, loadBalancer: false });
    expect((args('e3').etcd as { files: string[] }).files).toEqual(
      expect.arrayContaining(['/etc/kubernetes/pki/etcd/ca.crt', '/etc/kubernetes/pki/etcd/server.key']),
    );
    expect(JSON.stringify(args('e3'))).not.toContain('ca.key');
  });

  it('stacked etcd: no etcd of ours to remove, masters one at a time, kubeadm removes each member', () => {
    const rb = planUninstall(
      Inventory.parse({
        ...input,
        cluster: { ...input.cluster, etcd: { mode: 'stacked' }, loadBalancer: { kind: 'none' } },
        hosts: input.hosts.filter((h) => h.name !== 'e3'),
      }),
    );
    expect(phase(rb, 'reset-masters').rollout).toEqual({ kind: 'serial' });
    expect(phase(rb, 'reset-masters').hosts[0]!.steps[0]!.args.externalEtcd).toBe(false);
    for (const h of phase(rb, 'daemons').hosts) {
      expect(h.steps[0]!.args).toEqual({ keepalived: true, loadBalancer: false });
    }
  });

  it('workers may be skipped by decision, masters and etcd hosts not; the dry-run lines name every host', () => {
    const rb = planUninstall(Inventory.parse(input));
    expect(phase(rb, 'reset-workers').hosts.every((h) => h.maySkip)).toBe(true);
    expect([...phase(rb, 'reset-masters').hosts, ...phase(rb, 'daemons').hosts].some((h) => h.maySkip)).toBe(false);
    const text = describeRunbook(rb).join('\n');
    for (const h of ['m1', 'm2', 'e3', 'w1', 'w2']) expect(text).toContain(h);
  });
});
