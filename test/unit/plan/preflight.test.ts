import { describe, expect, it } from 'vitest';
import { Inventory } from '../../../src/inventory/schema.js';
import { crossHostChecks, planPreflight, requiredPorts } from '../../../src/plan/preflight.js';
import type { CheckResult } from '../../../src/plan/types.js';

const inv = Inventory.parse({
  cluster: { name: 'lab', kubernetesVersion: '1.32.4', vip: { address: '10.200.1.100' } },
  hosts: [
    { name: 'h1', address: '10.200.1.11', roles: ['primary-master', 'etcd'] },
    { name: 'h2', address: '10.200.1.12', roles: ['secondary-master', 'etcd'] },
    { name: 'h3', address: '10.200.1.13', roles: ['etcd'] },
    { name: 'h4', address: '10.200.1.14', roles: ['worker'] },
  ],
});

describe('preflight plan', () => {
  it('gives masters the control-plane ports, the LB port and etcd ports', () => {
    expect(requiredPorts(inv, 'h1')).toEqual([2379, 2380, 6443, 8443, 10250, 10257, 10259]);
  });
  it('gives workers only kubelet and kube-proxy ports', () => {
    expect(requiredPorts(inv, 'h4')).toEqual([10250, 10256]);
  });
  it('gives a pure etcd host only etcd ports', () => {
    expect(requiredPorts(inv, 'h3')).toEqual([2379, 2380]);
  });
  it('checks the VIP only on masters and node settings only on Kubernetes nodes', () => {
    const plan = planPreflight(inv);
    const ids = (name: string) => plan.hosts.find((h) => h.target.name === name)?.steps.map((s) => s.id) ?? [];
    expect(ids('h1')).toContain('vip-subnet');
    expect(ids('h4')).not.toContain('vip-subnet');
    expect(ids('h3')).not.toContain('sysctl');
    expect(ids('h4')).toContain('container-runtime');
  });
  it('checks the clock first on every host, and in the old place for runs recorded before', () => {
    // First alone (it opens the connection), and the clock runs alone anyway: two remote shells per host, not three.
    expect(planPreflight(inv).hosts.map((h) => h.steps[0]?.id)).toEqual(['clock', 'clock', 'clock', 'clock']);
    const old = planPreflight(inv, { clockFirst: false }).hosts[0]!.steps.map((s) => s.id);
    expect(old.slice(0, 6)).toEqual(['os', 'resources', 'swap', 'hostname', 'identity', 'clock']);
    expect(new Set(old)).toEqual(new Set(planPreflight(inv).hosts[0]!.steps.map((s) => s.id)));
  });
  it('asks masters for 2 CPUs and 1700 MiB like kubeadm', () => {
    const res = planPreflight(inv).hosts[0]?.steps.find((s) => s.id === 'resources');
    expect(res?.params).toEqual({ minCpus: 2, minMemoryMiB: 1700 });
  });
  it('uses the masters for etcd ports when etcd is stacked', () => {
    const stacked = Inventory.parse({ ...inv, cluster: { ...inv.cluster, etcd: { mode: 'stacked' } } });
    expect(requiredPorts(stacked, 'h2')).toContain(2379);
    expect(requiredPorts(stacked, 'h3')).not.toContain(2379);
  });
});

describe('cross-host identity checks', () => {
  const id = (host: string, machineId: string, macs: string[]): CheckResult => ({
    host,
    check: 'identity',
    status: 'pass',
    message: '',
    facts: { hostname: host, machineId, productUuid: '', macs },
  });
  it('flags a machine-id shared by cloned hosts on every host that has it', () => {
    const out = crossHostChecks([id('h1', 'aaa', ['02:00:00:00:00:01']), id('h2', 'aaa', ['02:00:00:00:00:02'])]);
    expect(out.map((r) => r.host)).toEqual(['h1', 'h2']);
    expect(out[0]?.message).toContain('machine-id aaa is shared by h1, h2');
  });
  it('flags a duplicate MAC', () => {
    const out = crossHostChecks([id('h1', 'a', ['02:00:00:00:00:01']), id('h2', 'b', ['02:00:00:00:00:01'])]);
    expect(out).toHaveLength(2);
    expect(out[0]?.message).toMatch(/MAC 02:00:00:00:00:01/);
  });
  it('passes distinct hosts and ignores an empty product_uuid', () => {
    expect(crossHostChecks([id('h1', 'a', ['02:01']), id('h2', 'b', ['02:02'])])).toEqual([]);
  });
});
