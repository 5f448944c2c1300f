// The preflight plan: which checks run on which host, with thresholds chosen per role. Pure and workflow-safe:
// the same function feeds `kubeadm2ha preflight --dry-run` and the preflight workflow.
//
// Sources: the seed's "Before you begin" list (bridge-nf-call-iptables, ip_vs, swap off) and kubeadm's own preflight
// (CPU, memory, ports, container runtime, unique hostname/product_uuid/MAC), updated for today's Kubernetes:
// ip_vs is only needed for kube-proxy's IPVS mode, and cgroup v1 is refused by the kubelet from 1.35 on.
import type { Inventory } from '../inventory/schema.js';
import { etcdHosts, isMaster, isWorker, nodes, targetOf } from './topology.js';
import type { CheckResult, CheckSpec, PreflightPlan } from './types.js';
import { PreflightCheckId as C } from './types.js';

/** kubeadm's control-plane minimums (its NumCPU and Mem checks). */
export const CONTROL_PLANE_MIN_CPUS = 2;
export const CONTROL_PLANE_MIN_MEMORY_MIB = 1700;
export const WORKER_MIN_CPUS = 1;
export const WORKER_MIN_MEMORY_MIB = 1024;

/** Ports that must be free before setup, by role (kubernetes.io "Ports and Protocols"). */
export function requiredPorts(inv: Inventory, hostName: string): number[] {
  const host = inv.hosts.find((h) => h.name === hostName);
  if (!host) return [];
  const ports = new Set<number>();
  const k8sNode = isMaster(host) || isWorker(host);
  if (k8sNode) ports.add(10250); // kubelet API
  if (isWorker(host)) ports.add(10256); // kube-proxy health
  if (isMaster(host)) {
    [6443, 10257, 10259].forEach((p) => ports.add(p)); // apiserver, controller-manager, scheduler
    if (inv.cluster.loadBalancer.kind !== 'none') ports.add(inv.cluster.loadBalancer.port);
  }
  if (etcdHosts(inv).some((h) => h.name === hostName)) [2379, 2380].forEach((p) => ports.add(p));
  return [...ports].sort((a, b) => a - b);
}

export interface PreflightPlanOptions {
  /**
   * The clock check first (default). A host's first check runs alone and opens the SSH connection; the clock probe
   * runs alone anyway (its skew is measured around its own round trip), so making it the first saves every host one
   * remote shell: two execs (clock, then the batch of the rest) instead of three. False: the order of runs recorded
   * before (OS first, clock among the rest).
   */
  clockFirst?: boolean;
}

export function planPreflight(inv: Inventory, { clockFirst = true }: PreflightPlanOptions = {}): PreflightPlan {
  const minor = Number(inv.cluster.kubernetesVersion.split('.')[1]);
  const nodeNames = new Set(nodes(inv).map((h) => h.name));
  return {
    cluster: inv.cluster.name,
    kubernetesVersion: inv.cluster.kubernetesVersion,
    hosts: inv.hosts.map((h) => {
      const master = isMaster(h);
      const node = nodeNames.has(h.name);
      const clock: CheckSpec = {
        id: C.clock,
        title: 'clock skew against the operator',
        params: { warnSkewMs: 500, maxSkewMs: 2000 },
      };
      const steps: CheckSpec[] = [
        ...(clockFirst ? [clock] : []),
        { id: C.os, title: 'supported OS and kernel', params: {} },
        {
          id: C.resources,
          title: 'CPU and memory',
          params: master
            ? { minCpus: CONTROL_PLANE_MIN_CPUS, minMemoryMiB: CONTROL_PLANE_MIN_MEMORY_MIB }
            : { minCpus: WORKER_MIN_CPUS, minMemoryMiB: WORKER_MIN_MEMORY_MIB },
        },
        { id: C.swap, title: 'swap off', params: {} },
        { id: C.hostname, title: 'hostname matches inventory', params: { expectedHostname: h.name } },
        { id: C.identity, title: 'machine identity (machine-id, product_uuid, MAC)', params: {} },
        ...(clockFirst ? [] : [clock]),
        { id: C.ports, title: 'required ports free', params: { ports: requiredPorts(inv, h.name) } },
        { id: C.disk, title: 'free disk under /var/lib', params: { minFreeDiskMiB: 10 * 1024 } },
      ];
      if (node) {
        steps.push(
          { id: C.kernelModules, title: 'kernel modules (br_netfilter, overlay, ip_vs)', params: {} },
          { id: C.sysctl, title: 'sysctls (bridge-nf-call-iptables, ip_forward)', params: {} },
          { id: C.cgroups, title: 'cgroup version', params: { kubernetesMinor: minor } },
          { id: C.containerRuntime, title: 'container runtime', params: {} },
        );
      }
      if (master) {
        steps.push({
          id: C.vipSubnet,
          title: 'virtual IP reachable on the masters subnet',
          params: {
            vip: inv.cluster.vip.address,
            vipPrefixLength: inv.cluster.vip.prefixLength,
            vipInterface: inv.cluster.vip.interface,
          },
        });
      }
      return { target: targetOf(h), steps };
    }),
  };
}

/** Checks across hosts: kubeadm requires unique hostnames, product_uuids and MACs; we add machine-id, which
 * cloned VMs often share and which makes journald and some CNIs misbehave. */
export function crossHostChecks(results: CheckResult[]): CheckResult[] {
  const identities = results.filter((r) => r.check === C.identity && r.facts);
  const out: CheckResult[] = [];
  const keys: [string, string][] = [
    ['hostname', 'hostname'],
    ['machineId', 'machine-id'],
    ['productUuid', 'product_uuid'],
  ];
  for (const [key, label] of keys) {
    const seen = new Map<string, string[]>();
    for (const r of identities) {
      const v = r.facts?.[key];
      if (typeof v === 'string' && v !== '') seen.set(v, [...(seen.get(v) ?? []), r.host]);
    }
    for (const [value, hosts] of seen) {
      if (hosts.length > 1) {
        for (const host of hosts) {
          out.push({
            host,
            check: 'unique-identity',
            status: 'fail',
            message: `${label} ${value} is shared by ${hosts.join(', ')}; every node needs its own`,
          });
        }
      }
    }
  }
  const macs = new Map<string, string[]>();
  for (const r of identities) {
    const list = r.facts?.macs;
    for (const mac of Array.isArray(list) ? list : []) macs.set(mac, [...(macs.get(mac) ?? []), r.host]);
  }
  for (const [mac, hosts] of macs) {
    if (new Set(hosts).size > 1) {
      for (const host of new Set(hosts)) {
        out.push({
          host,
          check: 'unique-identity',
          status: 'fail',
          message: `MAC ${mac} is shared by ${hosts.join(', ')}`,
        });
      }
    }
  }
  return out;
}

export function summarize(results: CheckResult[]): Record<'pass' | 'warn' | 'fail', number> {
  const s = { pass: 0, warn: 0, fail: 0 };
  for (const r of results) s[r.status] += 1;
  return s;
}
