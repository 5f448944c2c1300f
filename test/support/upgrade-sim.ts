// A stand-in cluster for upgrade tests without a lab: each node's packages, static-pod apiserver version, the
// version its kubelet reports, cordon state and backups, changed by stand-in activities exactly where the real
// ones change a real node (installKubePackages → packages; setSandboxImage → containerd's sandbox image; kubeadm
// upgrade apply|node → the apiserver manifest and the cluster configuration; restartKubelet → what the API reports; drain/uncordon → cordon; restore → the
// manifest copy). readUpgradeFacts reports it the way the real activity does. Failures are injected by
// `host:activity` with a count. Every call that changes something is recorded as `host:activity`; the reads (facts,
// images) apart, by name.
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../src/errors.js';
import type { UpgradeFacts } from '../../src/activities/node-upgrade.js';
import type { ReadUpgradeImagesInput, UpgradeImageFacts } from '../../src/activities/upgrade-images.js';
import { Inventory } from '../../src/inventory/schema.js';
import type { HostContext } from '../../src/plan/types.js';

export interface SimNode {
  name: string;
  master: boolean;
  packages: { kubeadm: string; kubelet: string; kubectl: string };
  apiserver?: string;
  /** What the kubelet reports to the API (the version that ran at its last start). */
  runningKubelet: string;
  cordoned: boolean;
  backup?: { apiserver?: string };
}

export function simCluster(version: string, names: { masters: string[]; workers: string[] }) {
  const nodes = new Map<string, SimNode>();
  for (const [list, master] of [
    [names.masters, true],
    [names.workers, false],
  ] as const) {
    for (const name of list) {
      nodes.set(name, {
        name,
        master,
        packages: { kubeadm: version, kubelet: version, kubectl: version },
        ...(master && { apiserver: version }),
        runningKubelet: version,
        cordoned: false,
      });
    }
  }
  /** lacking: image references no node holds and the registry has not (readUpgradeImages reports them missing). */
  const state = {
    clusterVersion: version,
    offered: [] as string[],
    lacking: [] as string[],
    sandbox: new Map<string, string>(),
  };
  const calls: string[] = [];
  /** The read-only activities, in order (kept apart from calls: they change nothing). */
  const reads: string[] = [];
  const failures = new Map<string, number>();
  const node = (name: string): SimNode => {
    const n = nodes.get(name);
    if (!n) throw ApplicationFailure.nonRetryable(`no node ${name} (stand-in)`, FailureType.InvalidInput);
    return n;
  };
  /** Record the call; fail it when a failure is armed for it. */
  const enter = (host: string, activity: string): void => {
    const key = `${host}:${activity}`;
    calls.push(key);
    const left = failures.get(key) ?? 0;
    if (left > 0) {
      failures.set(key, left - 1);
      throw ApplicationFailure.nonRetryable(`${activity} broke (injected, stand-in)`, FailureType.CommandFailed);
    }
  };
  const facts = (): UpgradeFacts => ({
    hosts: [...nodes.values()].map((n) => ({
      name: n.name,
      packages: Object.fromEntries(Object.entries(n.packages).map(([k, v]) => [k, `${v}-1.1`])),
      versions: { ...n.packages },
      held: ['kubeadm', 'kubectl', 'kubelet'],
      kubeletBinary: n.packages.kubelet,
      kubeadmBinary: n.packages.kubeadm,
      staticPods: Object.fromEntries(
        n.apiserver
          ? [['kube-apiserver', { image: `registry/k8s/kube-apiserver:v${n.apiserver}`, version: n.apiserver }]]
          : [],
      ),
    })),
    nodes: [...nodes.values()].map((n) => ({
      name: n.name,
      kubeletVersion: n.runningKubelet,
      ready: true,
      cordoned: n.cordoned,
    })),
    clusterVersion: state.clusterVersion,
    offeredKubeadm: state.offered.map((v) => `${v}-1.1`),
    offeredPackages: {
      kubelet: state.offered.map((v) => `${v}-1.1`),
      kubectl: state.offered.map((v) => `${v}-1.1`),
    },
  });
  const name = (h: HostContext) => h.target.name;
  const ok = <T>(v: T) => Promise.resolve(v);
  const activities = {
    readUpgradeFacts(): Promise<UpgradeFacts> {
      reads.push('readUpgradeFacts');
      return ok(facts());
    },
    /** Every target image on every node that needs it, except state.lacking: on none, and not in the registry. */
    readUpgradeImages({ hosts }: ReadUpgradeImagesInput): Promise<UpgradeImageFacts> {
      reads.push('readUpgradeImages');
      return ok({
        images: [...new Set(hosts.flatMap((h) => h.refs))].map((ref) =>
          state.lacking.includes(ref)
            ? {
                ref,
                missingOn: hosts.filter((h) => h.refs.includes(ref)).map((h) => h.host.target.name),
                inRegistry: false,
                registryUrl: 'https://registry.k8s.io',
              }
            : { ref, missingOn: [] },
        ),
      });
    },
    saveEtcdSnapshot(): Promise<{ path: string }> {
      enter('cluster', 'saveEtcdSnapshot');
      return ok({ path: '/state/snapshot.db' });
    },
    fetchAdminKubeconfig(): Promise<{ changed: boolean }> {
      return ok({ changed: false });
    },
    backupKubernetesConfig({ host }: { host: HostContext }) {
      enter(name(host), 'backupKubernetesConfig');
      const n = node(name(host));
      n.backup = { ...(n.apiserver && { apiserver: n.apiserver }) };
      return ok({ host: n.name, path: '/var/lib/kubeadm2ha/backups/20261202T000000Z.tar', sha256: 'a'.repeat(64) });
    },
    restoreKubernetesConfig({ host }: { host: HostContext; backup: { path: string } }) {
      enter(name(host), 'restoreKubernetesConfig');
      const n = node(name(host));
      if (n.backup?.apiserver) n.apiserver = n.backup.apiserver;
      return ok({ host: n.name, restored: true });
    },
    installKubePackages({ host, version, packages }: { host: HostContext; version: string; packages?: string[] }) {
      enter(name(host), `installKubePackages(${(packages ?? []).join(',')})`);
      const n = node(name(host));
      for (const p of packages ?? ['kubeadm', 'kubelet', 'kubectl']) n.packages[p as 'kubeadm'] = version;
      return ok({ host: n.name, installed: true });
    },
    kubeadmUpgradeApply({ host, version }: { host: HostContext; version: string }) {
      enter(name(host), 'kubeadmUpgradeApply');
      const n = node(name(host));
      if (n.packages.kubeadm !== version)
        throw ApplicationFailure.nonRetryable(`kubeadm ${n.packages.kubeadm} cannot apply ${version} (stand-in)`);
      n.apiserver = version;
      state.clusterVersion = version;
      return ok({ host: n.name, durationMs: 1 });
    },
    kubeadmUpgradeNode({ host }: { host: HostContext }) {
      enter(name(host), 'kubeadmUpgradeNode');
      const n = node(name(host));
      if (n.master) n.apiserver = state.clusterVersion;
      return ok({ host: n.name, durationMs: 1 });
    },
    /** containerd's sandbox image: per node, the last one set (state.sandbox). */
    setSandboxImage({ host, image }: { host: HostContext; image: string }) {
      enter(name(host), 'setSandboxImage');
      const changed = state.sandbox.get(name(host)) !== image;
      state.sandbox.set(name(host), image);
      return ok({ host: name(host), image, changed, action: changed ? 'restarted' : 'none' });
    },
    ensureCriSocket({ host }: { host: HostContext }) {
      enter(name(host), 'ensureCriSocket');
      return ok({ host: name(host), state: 'present' });
    },
    drainNode({ node: nodeName }: { node: string }) {
      enter(nodeName, 'drainNode');
      node(nodeName).cordoned = true;
      return ok({ node: nodeName, elapsedMs: 1 });
    },
    uncordonNode({ node: nodeName }: { node: string }) {
      enter(nodeName, 'uncordonNode');
      node(nodeName).cordoned = false;
      return ok({ node: nodeName });
    },
    restartKubelet({ host }: { host: HostContext }) {
      enter(name(host), 'restartKubelet');
      const n = node(name(host));
      n.runningKubelet = n.packages.kubelet;
      return ok({ host: n.name, kubelet: n.runningKubelet });
    },
    waitNodeUpgraded({ host, version }: { host: HostContext; version: string }) {
      enter(name(host), 'waitNodeUpgraded');
      const n = node(name(host));
      if (n.runningKubelet !== version || n.cordoned)
        throw ApplicationFailure.nonRetryable(`${n.name} not healthy at ${version} (stand-in)`);
      return ok({ node: n.name, kubeletVersion: version, ready: true });
    },
    configureKeepalived({ host }: { host: HostContext }) {
      enter(name(host), 'configureKeepalived');
      return ok({ changed: [] });
    },
    configureLoadBalancer({ host }: { host: HostContext }) {
      enter(name(host), 'configureLoadBalancer');
      return ok({ changed: [] });
    },
  };
  return { nodes, state, calls, reads, failures, facts, activities };
}

/** An inventory for the stand-in's nodes: masters m1 (primary), m2… with external etcd on them, workers w1…. */
export function simInventory(masters: number, workers: number): Inventory {
  return Inventory.parse({
    cluster: { name: 'upg', kubernetesVersion: '1.33.13', vip: { address: '10.10.0.100' } },
    hosts: [
      ...Array.from({ length: masters }, (_, i) => ({
        name: `m${i + 1}`,
        address: `10.10.0.${11 + i}`,
        roles: [i === 0 ? 'primary-master' : 'secondary-master', 'etcd'],
      })),
      ...Array.from({ length: workers }, (_, i) => ({
        name: `w${i + 1}`,
        address: `10.10.0.${21 + i}`,
        roles: ['worker'],
      })),
    ],
  });
}
