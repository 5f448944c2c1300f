// The setup runbook: an HA cluster from bare hosts, as the runbook executor (src/workflows/runbook.ts) runs it and
// `setup --dry-run` shows it. Phases follow the seed's cluster-setup.yaml and cluster-load-balanced.yaml: nodes
// prepared (OS, packages, containerd) → external etcd → the cluster CAs on the masters → VIP and load balancer →
// kubeadm init on the primary → the admin kubeconfig into the local store → the pod network → secondary masters
// joined one at a time → workers in batches → CoreDNS scaled, every node Ready.
//
// Planned from facts (src/activities/setup-facts.ts, read at the start of every run and by `setup --dry-run`): a
// step the facts show done is left out and listed in the runbook's alreadyDone, so a rerun of a finished setup is
// an empty runbook and a rerun after one worker was reset joins that worker. Without facts (undefined: a fresh
// cluster, or `--dry-run --no-facts`) every step is planned; every step is idempotent anyway, so a fact read a
// moment too early costs a check, never a wrong change.
import type { HostSetupFacts, ReadSetupFactsInput, SetupFacts } from '../activities/setup-facts.js';
import type { Host, Inventory } from '../inventory/schema.js';
import { InvalidInputError } from '../errors.js';
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
import { etcdDoneHosts, etcdFactsFields, planEtcdSetupRunbook, type PlanOptions as EtcdPlanOptions } from './etcd.js';
import { imagePushPhase } from './images.js';
import { podNetworkSource } from './pod-network.js';
import { ONCE, step, type HostRun, type Phase, type Runbook, type Step } from './runbook.js';
import { etcdHosts, masters, nodes, primaryMaster, secondaryMasters, targetOf, workers } from './topology.js';
import type { HostContext } from './types.js';

/** Workers join this many at a time: kubeadm join is light on the control plane, a batch fails together. */
export const WORKER_BATCH = 5;

/** Upstream part of a Debian version: 1:1.34.12-1.1 → 1.34.12. */
const upstream = (deb: string | undefined): string => (deb ?? '').replace(/^\d+:/, '').split(/[-+~]/)[0] ?? '';

/** What the facts activity reads, per host with the settings its steps get: the planner's questions, as data. */
export function setupFactsRequest(inv: Inventory): ReadSetupFactsInput {
  const c = inv.cluster;
  const etcd = c.etcd.mode === 'external' ? etcdFactsFields(inv) : undefined;
  const isMaster = (h: Host) => masters(inv).some((m) => m.name === h.name);
  const network = podNetworkSource(inv);
  return {
    cluster: c.name,
    primary: primaryMaster(inv).name,
    ...(network && { network }),
    hosts: [...nodes(inv), ...etcdHosts(inv).filter((e) => !nodes(inv).some((n) => n.name === e.name))].map((h) => ({
      host: { target: targetOf(h), ssh: inv.ssh },
      ...(nodes(inv).some((n) => n.name === h.name) && {
        containerd: {
          settings: {
            cgroupDriver: c.containerRuntime.cgroupDriver,
            sandboxImage: sandboxImage(inv),
            restrictOomScoreAdj: c.containerRuntime.restrictOomScoreAdj,
          },
          registries: c.containerRuntime.registries,
        },
      }),
      ...(isMaster(h) && { keepalived: keepalivedSettings(inv, h) }),
      ...(isMaster(h) &&
        c.loadBalancer.kind !== 'none' && {
          loadBalancer: { kind: c.loadBalancer.kind, settings: loadBalancerSettings(inv) },
        }),
      ...etcd?.(h),
    })),
  };
}

/** Is this step on this host (or, for ONCE, the cluster) already done according to the facts? */
type Done = (host: string, step: Step) => boolean;

/** The facts' verdict per host and step; without facts nothing is done. */
function doneFrom(inv: Inventory, facts: SetupFacts | undefined): Done {
  if (!facts) return () => false;
  const c = inv.cluster;
  const byName = new Map<string, HostSetupFacts>(facts.hosts.map((f) => [f.name, f]));
  const wantedReplicas = masters(inv).length;
  return (host, s) => {
    const f = byName.get(host);
    if (host === ONCE) {
      switch (s.id) {
        case 'applyPodNetwork':
          return facts.cluster?.podNetwork === true;
        case 'scaleCoreDns':
          return facts.cluster?.coreDnsReplicas === wantedReplicas;
        default:
          return false;
      }
    }
    if (!f || f.unreachable) return false;
    switch (s.id) {
      case 'prepareNodeOs':
        return f.osPrepared;
      case 'installKubePackages':
        return ['kubeadm', 'kubelet', 'kubectl'].every(
          (p) => upstream(f.packages[p]) === c.kubernetesVersion && (!c.packages.hold || f.held.includes(p)),
        );
      case 'configureContainerd':
        return f.containerd;
      // kubeadm took the cluster CAs into its own PKI when it ran the control plane here.
      case 'placeClusterPki':
        return f.controlPlane;
      case 'configureKeepalived':
        return f.keepalived === true;
      case 'configureLoadBalancer':
        return f.loadBalancer === true;
      case 'kubeadmInit':
        return f.controlPlane && f.adminConf;
      case 'joinNode':
        return f.joined && (s.args.controlPlane !== true || f.controlPlane);
      default:
        return false;
    }
  };
}

/**
 * The setup runbook for this inventory, leaving out what the facts show done (all of it planned without facts).
 * Cluster-wide steps follow what remains: the CA step only when a master still needs the CAs placed, the admin
 * kubeconfig only when the store lacks it or kubeadm init is planned, and containerd is configured on every node
 * when the flannel network is applied (its result carries each node's CNI directory, which flannel needs).
 */
export interface SetupPlanOptions extends EtcdPlanOptions {
  /** False for runs that read facts before the API servers' etcd servers were planned (the workflow's
   * patched(SETUP_APISERVER_ETCD)): replaying them must plan what they planned. Default true. */
  apiserverEtcd?: boolean;
  /** etcd members the inventory no longer has go without waiting for `kubeadm2ha approve`. */
  approveRemoval?: boolean;
}

/** How long a master's API server may take to come back with its new etcd servers. */
export const APISERVER_READY_SECONDS = 300;

/**
 * External etcd whose members changed under a running cluster: kubeadm-config's etcd.external.endpoints and each
 * master's kube-apiserver --etcd-servers, where the facts show them other than the inventory's members (compared as
 * sets: an order of its own is no reason to restart an API server). The ConfigMap first (a master joining later in
 * this run, or the next `kubeadm upgrade`, renders its flag from it), then the masters one at a time, each followed
 * by its health gate, so the others keep serving through the VIP while one restarts. Nothing without a cluster view.
 */
export function apiserverEtcdPhases(inv: Inventory, facts: SetupFacts | undefined): Phase[] {
  const c = inv.cluster;
  if (c.etcd.mode !== 'external' || !facts?.cluster?.answering) return [];
  const cs = kubeadmClusterSettings(inv);
  const endpoints = cs.etcd.kind === 'external' ? cs.etcd.endpoints : [];
  const same = (a: readonly string[]) => [...a].sort().join(',') === [...endpoints].sort().join(',');
  const primary = primaryMaster(inv);
  const via = { target: targetOf(primary), ssh: inv.ssh };
  const phases: Phase[] = [];
  const current = facts.cluster.etcdEndpoints;
  if (current !== undefined && !same(current))
    phases.push({
      id: 'etcd-endpoints',
      title: 'kubeadm-config: the etcd members',
      kind: 'once',
      steps: [
        step('updateKubeadmEtcdEndpoints', `etcd.external.endpoints: ${endpoints.length} members`, 'quick', {
          via,
          cluster: c.name,
          endpoints,
        }),
      ],
    });
  const byName = new Map(facts.hosts.map((f) => [f.name, f]));
  const stale = masters(inv).filter((m) => {
    const f = byName.get(m.name);
    return f !== undefined && !f.unreachable && f.controlPlane && f.etcdServers !== undefined && !same(f.etcdServers);
  });
  if (stale.length > 0)
    phases.push({
      id: 'apiserver-etcd',
      title: "masters' API servers: --etcd-servers, one at a time",
      kind: 'hosts',
      rollout: { kind: 'serial' },
      hosts: stale.map((m) => ({
        target: targetOf(m),
        // A master left with the old member list would lose etcd when a removed member goes: never skipped.
        maySkip: false,
        steps: [
          step('updateApiserverEtcdServers', 'kube-apiserver manifest: --etcd-servers', 'hostStep', { endpoints }),
          step('waitApiserverReady', 'restarted with them, /readyz ok on it and through the VIP', 'wait', {
            via,
            cluster: c.name,
            endpoints,
            timeoutSeconds: APISERVER_READY_SECONDS,
          }),
        ],
      })),
    });
  return phases;
}

/**
 * Scale-in under setup is safe only when the facts show where every API server points: the cluster answered and
 * each inventory master was read and either runs no control plane (it joins later in this run, rendered from
 * kubeadm-config) or has known --etcd-servers (apiserverEtcdPhases moves it first when they differ). A master
 * that could not be read, or whose flag is unknown, may still use a leaving member, so the removal is refused.
 */
export function checkApiserversForRemoval(inv: Inventory, facts: SetupFacts | undefined, removal: Phase): void {
  const leaving = removal.kind === 'hosts' ? removal.hosts.map((h) => h.target.name).join(', ') : '';
  const why: string[] = [];
  if (!facts?.cluster?.answering)
    why.push(`the API did not answer${facts?.cluster?.error ? ` (${facts.cluster.error})` : ''}`);
  const byName = new Map((facts?.hosts ?? []).map((f) => [f.name, f]));
  for (const m of masters(inv)) {
    const f = byName.get(m.name);
    if (!f) why.push(`${m.name} was not read`);
    else if (f.unreachable) why.push(`${m.name} could not be read (${f.unreachable})`);
    else if (f.controlPlane && f.etcdServers === undefined) why.push(`${m.name}'s --etcd-servers is unknown`);
  }
  if (why.length > 0)
    throw new InvalidInputError(
      `etcd member(s) ${leaving} would be removed while the API servers may still use them: ${why.join('; ')}; ` +
        'fix that and run setup again',
    );
}

export function planSetup(inv: Inventory, facts?: SetupFacts, o: SetupPlanOptions = {}): Runbook {
  const c = inv.cluster;
  const ctx = (h: Host): HostContext => ({ target: targetOf(h), ssh: inv.ssh });
  const isDone = doneFrom(inv, facts);
  const alreadyDone = new Map<string, string[]>();
  const keep = (host: string, steps: Step[], always: (s: Step) => boolean = () => false): Step[] =>
    steps.filter((s) => {
      if (always(s) || !isDone(host, s)) return true;
      alreadyDone.set(host, [...(alreadyDone.get(host) ?? []), s.id]);
      return false;
    });
  const run = (h: Host, steps: Step[], maySkip = false): HostRun => ({ target: targetOf(h), steps, maySkip });
  const primary = primaryMaster(inv);
  const phases: Phase[] = [];
  const network = podNetworkSource(inv);
  const networkMissing = network !== undefined && !isDone(ONCE, { id: 'applyPodNetwork' } as Step);

  phases.push({
    id: 'nodes',
    title: 'nodes: OS, packages, containerd',
    kind: 'hosts',
    rollout: { kind: 'parallel' },
    hosts: nodes(inv).map((h) =>
      run(
        h,
        keep(
          h.name,
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
          (s) => s.id === 'configureContainerd' && networkMissing && network.kind === 'flannel',
        ),
        !h.roles.some((r) => r !== 'worker'),
      ),
    ),
  });

  // Air-gapped hosts get every image kubeadm and the pod network need now, into the containerd just configured.
  const images = imagePushPhase(inv, c.kubernetesVersion);
  if (images) phases.push(images);

  // External etcd: exactly the etcd setup's own runbook (CA, members, health gate), as phases of this one, for the
  // hosts whose member (or client certificate) is not there yet; none when all are.
  // Scale-in's phase (members the inventory no longer has) is held back until the API servers have left them.
  let etcdRemoval: Phase | undefined;
  if (c.etcd.mode === 'external') {
    const done = etcdDoneHosts(inv, facts);
    const etcd = planEtcdSetupRunbook({ inventory: inv, ...(o.approveRemoval && { approveRemoval: true }) }, facts, {
      ...o,
      apiServersFollow: true,
    }).runbook;
    const etcdPhase = (p: Phase): Phase => ({ ...p, id: `etcd-${p.id}`, title: `etcd: ${p.title}` });
    etcdRemoval = etcd.phases.find((p) => p.id === 'remove');
    const rest = etcd.phases.filter((p) => p !== etcdRemoval);
    for (const name of done) alreadyDone.set(name, [...(alreadyDone.get(name) ?? []), 'etcd']);
    if (rest.some((p) => p.kind === 'hosts' && p.hosts.length > 0)) phases.push(...rest.map(etcdPhase));
    if (etcdRemoval) {
      checkApiserversForRemoval(inv, facts, etcdRemoval);
      etcdRemoval = etcdPhase(etcdRemoval);
    }
  }

  const cas = planClusterCas(inv);
  const prep = masters(inv).map((h) =>
    run(
      h,
      keep(h.name, [
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
  );
  const caStep = step('ensureClusterCas', 'cluster CA, front-proxy CA, service-account keys', 'quick', {
    cluster: c.name,
    cas: cas.cas.filter((x) => x.name !== 'etcd-ca'),
    serviceAccountKeyType: cas.serviceAccount.keyType,
  });
  // The CA step feeds placeClusterPki only: without one to place it has nothing to do.
  if (prep.some((r) => r.steps.some((s) => s.id === 'placeClusterPki')))
    phases.push({ id: 'cluster-ca', title: 'cluster CAs', kind: 'once', steps: [caStep] });
  else if (facts) alreadyDone.set(ONCE, [...(alreadyDone.get(ONCE) ?? []), caStep.id]);
  phases.push({
    id: 'control-plane-prep',
    title: 'masters: PKI, VIP, load balancer',
    kind: 'hosts',
    rollout: { kind: 'parallel' },
    hosts: prep,
  });

  const cluster = kubeadmClusterSettings(inv);
  const init = keep(primary.name, [
    step('kubeadmInit', 'kubeadm init', 'install', {
      config: renderInitConfiguration(cluster, kubeadmNode(primary)),
    }),
  ]);
  phases.push({
    id: 'init',
    title: 'kubeadm init',
    kind: 'hosts',
    rollout: { kind: 'serial' },
    hosts: [run(primary, init)],
  });
  const kubeconfigPhase = phases.length;
  // Right after init, as kubeadm's guide has it: the DaemonSet then reaches each node as it joins, and CoreDNS gets
  // pod addresses. kubeadm's podSubnet and the controller manager's node mask come from the same inventory fields
  // (cluster-config.ts), so flannel's per-node subnets are the ones the controller manager hands out.
  if (network) {
    const steps = keep(ONCE, [
      step(
        'applyPodNetwork',
        network.kind === 'flannel' ? 'flannel (server-side apply)' : `${network.path} (server-side apply)`,
        'hostStep',
        { via: ctx(primary), cluster: c.name, network },
        network.kind === 'flannel'
          ? { bind: { cniBinDirs: { fromEachHost: 'configureContainerd', field: 'cniBinDir' } } }
          : {},
      ),
    ]);
    if (steps.length > 0) phases.push({ id: 'pod-network', title: 'pod network', kind: 'once', steps });
  }
  if (o.apiserverEtcd !== false) phases.push(...apiserverEtcdPhases(inv, facts));
  if (etcdRemoval) phases.push(etcdRemoval);
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
    hosts: secondaryMasters(inv).map((h) => run(h, keep(h.name, [join(h, true)]))),
  });
  phases.push({
    id: 'join-workers',
    title: 'workers, in batches',
    kind: 'hosts',
    rollout: { kind: 'batches', size: WORKER_BATCH },
    // A worker that is also a master joined above; a pure worker may be skipped by decision.
    hosts: workers(inv)
      .filter((h) => !masters(inv).some((m) => m.name === h.name))
      .map((h) => run(h, keep(h.name, [join(h, false)]), true)),
  });
  const converge = keep(ONCE, [
    step('scaleCoreDns', `CoreDNS × ${masters(inv).length}`, 'quick', {
      via: ctx(primary),
      cluster: c.name,
      replicas: masters(inv).length,
    }),
  ]);
  // The images push is no change of its own: it matters only for the steps that follow it.
  const planned = (ps: Phase[]) =>
    ps.some((p) => (p.kind === 'once' ? p.steps.length : p.kind === 'hosts' && p.hosts.some((h) => h.steps.length)));
  const allReady =
    facts?.cluster?.answering === true &&
    nodes(inv).every((h) => facts.cluster!.nodes.some((n) => n.name === h.name && n.ready));
  // Every node Ready: after any change, or when the facts do not show them all Ready; a finished cluster needs no
  // wait. Every node but a worker an operator skipped at a decision: it never joined, and waiting for it would park
  // the run again at a step where skip is not offered.
  if (converge.length > 0 || planned(phases) || !allReady)
    converge.push(
      step(
        'waitNodesReady',
        'every node Ready',
        'wait',
        { via: ctx(primary), cluster: c.name, timeoutSeconds: 300 },
        { bind: { nodes: { notSkipped: nodes(inv).map((h) => h.name) } } },
      ),
    );
  else alreadyDone.set(ONCE, [...(alreadyDone.get(ONCE) ?? []), 'waitNodesReady']);
  if (converge.length > 0)
    phases.push({ id: 'converge', title: 'CoreDNS and nodes Ready', kind: 'once', steps: converge });
  // The admin kubeconfig feeds every kubectl step (pod network, CoreDNS, nodes Ready): fetched when one of them runs
  // and the store lacks the primary's current one (or init makes a new one).
  const kubectlSteps = phases
    .slice(kubeconfigPhase)
    .some((p) => (p.kind === 'once' && p.steps.length > 0) || p.id === 'apiserver-etcd');
  const fetch = step('fetchAdminKubeconfig', 'admin kubeconfig into the local store', 'quick', {
    via: ctx(primary),
    cluster: c.name,
  });
  if (kubectlSteps && !(facts?.adminKubeconfigStored && init.length === 0))
    phases.splice(kubeconfigPhase, 0, { id: 'kubeconfig', title: 'admin kubeconfig', kind: 'once', steps: [fetch] });
  else if (facts) alreadyDone.set(ONCE, [...(alreadyDone.get(ONCE) ?? []), fetch.id]);

  return {
    operation: 'setup',
    title: 'cluster setup',
    cluster: c.name,
    kubernetesVersion: c.kubernetesVersion,
    ssh: inv.ssh,
    onFailure: 'decide',
    phases: phases
      .filter((p) =>
        p.kind === 'once'
          ? p.steps.length > 0
          : p.kind === 'child'
            ? planned(phases)
            : p.hosts.some((h) => h.steps.length > 0),
      )
      .map((p) => (p.kind === 'hosts' ? { ...p, hosts: p.hosts.filter((h) => h.steps.length > 0) } : p)),
    ...(facts && { alreadyDone: [...alreadyDone].map(([host, steps]) => ({ host, steps })) }),
  };
}
