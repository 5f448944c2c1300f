// Who is who in a cluster, derived from host roles. The seed's Ansible groups map onto these:
// primary-master, secondary-masters, masters = both, etcd, minions = workers, nodes = masters + workers.
import type { Host, Inventory } from '../inventory/schema.js';
import type { HostTarget } from './types.js';

export const isMaster = (h: Host): boolean =>
  h.roles.includes('primary-master') || h.roles.includes('secondary-master');
export const isEtcd = (h: Host): boolean => h.roles.includes('etcd');
export const isWorker = (h: Host): boolean => h.roles.includes('worker');

export function primaryMaster(inv: Inventory): Host {
  const h = inv.hosts.find((x) => x.roles.includes('primary-master'));
  // The inventory rules guarantee exactly one; reaching this is a bug in the caller.
  if (!h) throw new Error('inventory has no primary master');
  return h;
}
export const secondaryMasters = (inv: Inventory): Host[] =>
  inv.hosts.filter((h) => h.roles.includes('secondary-master'));
export const masters = (inv: Inventory): Host[] => inv.hosts.filter(isMaster);
export const workers = (inv: Inventory): Host[] => inv.hosts.filter(isWorker);
/** Hosts running etcd: the etcd group for external etcd, the masters for stacked etcd. */
export const etcdHosts = (inv: Inventory): Host[] =>
  inv.cluster.etcd.mode === 'stacked' ? masters(inv) : inv.hosts.filter(isEtcd);
/** Kubernetes nodes (the seed's `nodes` group). A pure etcd host is not a node. */
export const nodes = (inv: Inventory): Host[] => inv.hosts.filter((h) => isMaster(h) || isWorker(h));

export function targetOf(h: Host): HostTarget {
  return {
    name: h.name,
    address: h.address,
    roles: h.roles,
    ...(h.ssh?.port !== undefined && { port: h.ssh.port }),
    ...(h.ssh?.user !== undefined && { user: h.ssh.user }),
    ...(h.ssh?.identityFile !== undefined && { identityFile: h.ssh.identityFile }),
    ...(h.ssh?.bastion !== undefined && { bastion: h.ssh.bastion }),
  };
}

/** Split into batches of at most `size` (at least 1), keeping order. */
export function batches<T>(items: T[], size: number): T[][] {
  const n = Math.max(1, Math.floor(size));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}
