// The setup runbook: an HA cluster from bare hosts, as the runbook executor (src/workflows/runbook.ts) runs it and
// `setup --dry-run` shows it. Phases follow the seed's cluster-setup.yaml and cluster-load-balanced.yaml: nodes
// prepared (OS, packages, containerd) → external etcd → the cluster CAs on the masters → VIP and load balancer →
// kubeadm init on the primary → the admin kubeconfig into the local store → the pod network → secondary masters
// joined one at a time → workers in batches → CoreDNS scaled, every node Ready. Every step is idempotent, so a rerun
// is a check.
import type { Host, Inventory } from '../inventory/schema.js';
import { planClusterCas } from './pki.js';
import { renderInitConfiguration, renderJoinConfiguration } from '../templates/kubeadm.js';
import {
  joinSettings,
  keepalivedSettings,
  kubeadmClusterSettings,
  kubeadmNode,
  loadBalancerSettings,
  sandboxImage,
} from './cluster-config.js';
import { planEtcdSetupRunbook } from './etcd.js';
import { podNetworkSource } from './pod-network.js';
import { step, type HostRun, type Phase, type Runbook, type Step } from './runbook.js';
import { masters, nodes, primaryMaster, secondaryMasters, targetOf, workers } from './topology.js';
import type { HostContext } from './types.js';

/** Workers join this many at a time: kubeadm join is light on the control plane, a batch fails together. */
export const WORKER_BATCH = 5;

export function planSetup(inv: Inventory): Runbook {
  const c = inv.cluster;
  const ctx = (h: Host): HostContext => ({ target: targetOf(h), ssh: inv.ssh });
  const run = (h: Host, steps: Step[], maySkip = false): HostRun => ({ target: targetOf(h), steps, maySkip });
  const primary = primaryMaster(inv);
  const phases: Phase[] = [];

  phases.push({
    id: 'nodes',
    title: 'nodes: OS, packages, containerd',
    kind: 'hosts',
    rollout: { kind: 'parallel' },
    hosts: nodes(inv).map((h) =>
      run(
        h,
        [
          step('prepareNodeOs', 'kernel modules, sysctls, swap off', 'hostStep', {}),
          step('installKubePackages', `kubeadm, kubelet, kubectl ${c.kubernetesVersion}`, 'install', {
            version: c.kubernetesVersion,
            hold: c.packages.hold,
          }),
          step('configureContainerd', 'containerd configured', 'hostStep', {
            settings: {
              cgroupDriver: c.containerRuntime.cgroupDriver,
              sandboxImage: sandboxImage(inv),
              restrictOomScoreAdj: c.containerRuntime.restrictOomScoreAdj,
            },
            registries: c.containerRuntime.registries,
          }),
        ],
        !h.roles.some((r) => r !== 'worker'),
      ),
    ),
  });

  // External etcd: exactly the etcd setup's own runbook (CA, members, health gate), as phases of this one.
  if (c.etcd.mode === 'external') {
    const etcd = planEtcdSetupRunbook({ inventory: inv }).runbook;
    phases.push(...etcd.phases.map((p) => ({ ...p, id: `etcd-${p.id}`, title: `etcd: ${p.title}` })));
  }

  const cas = planClusterCas(inv);
  phases.push({
    id: 'cluster-ca',
    title: 'cluster CAs',
    kind: 'once',
    steps: [
      step('ensureClusterCas', 'cluster CA, front-proxy CA, service-account keys', 'quick', {
        cluster: c.name,
        cas: cas.cas.filter((x) => x.name !== 'etcd-ca'),
        serviceAccountKeyType: cas.serviceAccount.keyType,
      }),
    ],
  });
  phases.push({
    id: 'control-plane-prep',
    title: 'masters: PKI, VIP, load balancer',
    kind: 'hosts',
    rollout: { kind: 'parallel' },
    hosts: masters(inv).map((h) =>
      run(h, [
        step(
          'placeClusterPki',
          'cluster CAs in /etc/kubernetes/pki',
          'hostStep',
          { cluster: c.name },
          {
            bind: { caFingerprints: { from: 'ensureClusterCas', field: 'fingerprints' } },
          },
        ),
        step('configureKeepalived', 'keepalived (VIP)', 'hostStep', { settings: keepalivedSettings(inv, h) }),
        ...(c.loadBalancer.kind === 'none'
          ? []
          : [
              step('configureLoadBalancer', `${c.loadBalancer.kind} on :${c.loadBalancer.port}`, 'hostStep', {
                kind: c.loadBalancer.kind,
                settings: loadBalancerSettings(inv),
              }),
            ]),
      ]),
    ),
  });

  const cluster = kubeadmClusterSettings(inv);
  phases.push({
    id: 'init',
    title: 'kubeadm init',
    kind: 'hosts',
    rollout: { kind: 'serial' },
    hosts: [
      run(primary, [
        step('kubeadmInit', 'kubeadm init', 'install', {
          config: renderInitConfiguration(cluster, kubeadmNode(primary)),
        }),
      ]),
    ],
  });
  phases.push({
    id: 'kubeconfig',
    title: 'admin kubeconfig',
    kind: 'once',
    steps: [
      step('fetchAdminKubeconfig', 'admin kubeconfig into the local store', 'quick', {
        via: ctx(primary),
        cluster: c.name,
      }),
    ],
  });
  // Right after init, as kubeadm's guide has it: the DaemonSet then reaches each node as it joins, and CoreDNS gets
  // pod addresses. kubeadm's podSubnet and the controller manager's node mask come from the same inventory fields
  // (cluster-config.ts), so flannel's per-node subnets are the ones the controller manager hands out.
  const network = podNetworkSource(inv);
  if (network)
    phases.push({
      id: 'pod-network',
      title: 'pod network',
      kind: 'once',
      steps: [
        step(
          'applyPodNetwork',
          network.kind === 'flannel' ? 'flannel (server-side apply)' : `${network.path} (server-side apply)`,
          'hostStep',
          { via: ctx(primary), cluster: c.name, network },
          network.kind === 'flannel'
            ? { bind: { cniBinDirs: { fromEachHost: 'configureContainerd', field: 'cniBinDir' } } }
            : {},
        ),
      ],
    });
  const join = (h: Host, controlPlane: boolean): Step =>
    step('joinNode', controlPlane ? 'kubeadm join --control-plane' : 'kubeadm join', 'install', {
      primary: ctx(primary),
      config: renderJoinConfiguration(joinSettings(inv, h, controlPlane)),
      controlPlane,
    });
  phases.push({
    id: 'join-masters',
    title: 'secondary masters, one at a time',
    kind: 'hosts',
    rollout: { kind: 'serial' },
    hosts: secondaryMasters(inv).map((h) => run(h, [join(h, true)])),
  });
  phases.push({
    id: 'join-workers',
    title: 'workers, in batches',
    kind: 'hosts',
    rollout: { kind: 'batches', size: WORKER_BATCH },
    // A worker that is also a master joined above; a pure worker may be skipped by decision.
    hosts: workers(inv)
      .filter((h) => !masters(inv).some((m) => m.name === h.name))
      .map((h) => run(h, [join(h, false)], true)),
  });
  phases.push({
    id: 'converge',
    title: 'CoreDNS and nodes Ready',
    kind: 'once',
    steps: [
      step('scaleCoreDns', `CoreDNS × ${masters(inv).length}`, 'quick', {
        via: ctx(primary),
        cluster: c.name,
        replicas: masters(inv).length,
      }),
      // Every node but a worker an operator skipped at a decision: it never joined, and waiting for it would park the
      // run again at a step where skip is not offered.
      step(
        'waitNodesReady',
        'every node Ready',
        'wait',
        { via: ctx(primary), cluster: c.name, timeoutSeconds: 300 },
        { bind: { nodes: { notSkipped: nodes(inv).map((h) => h.name) } } },
      ),
    ],
  });

  return {
    operation: 'setup',
    title: 'cluster setup',
    cluster: c.name,
    kubernetesVersion: c.kubernetesVersion,
    ssh: inv.ssh,
    onFailure: 'decide',
    phases: phases.filter((p) => p.kind === 'once' || p.hosts.length > 0),
  };
}
