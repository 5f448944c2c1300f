// The upgrade runbook (issue 12): from the inventory, the facts read from every node (src/activities/node-upgrade.ts
// readUpgradeFacts) and a target version. `upgrade plan`, `upgrade --dry-run` and the workflow all call this one
// function, so what is shown is what runs. Only nodes not at the target get steps: a rerun or a resumed run reads
// the facts again and starts at the first node still to do, never redoing one.
//
// Phases (the seed's cluster-upgrade.yaml, in kubeadm's documented order):
//   safety     — approval (unless --yes), etcd snapshot into the operator's store, admin kubeconfig
//   backup     — a copy of /etc/kubernetes (and the kubelet's config) on every node still to upgrade
//   first-master — kubeadm package, node repairs, `kubeadm upgrade apply`, drain, kubelet/kubectl, kubelet restart,
//                  uncordon, health gate, VIP and load balancer re-applied
//   masters    — the other masters one at a time, `kubeadm upgrade node`, same gates
//   workers    — in batches: kubeadm, node repairs, `kubeadm upgrade node`, drain (with a deadline), kubelet/kubectl,
//                restart, uncordon, Ready at the target
// Node repairs, right before `kubeadm upgrade apply|node` (both idempotent): containerd's sandbox image set to the
// target's pause (kubeadm of the target warns when it differs; containerd restarted only when it changed; the old
// pause's containerd 2 pin dropped once no sandbox uses it, else on a later run, so the kubelet's GC may collect it),
// and the node's CRI socket annotation written when a join cut short left it out (kubeadm refuses such a node).
//   leftovers  — nodes already at the target but cordoned (a run stopped between restart and uncordon): uncordon
// Every drain registers uncordon as its undo, so an abort leaves no node cordoned; each node's rollback (its
// /etc/kubernetes copy, the previous packages, kubelet restart, uncordon) is the decision `rollback`.
import type { Host, Inventory } from '../inventory/schema.js';
import type { UpgradeFacts } from '../activities/node-upgrade.js';
import { keepalivedSettings, loadBalancerSettings, sandboxImageAt } from './cluster-config.js';
import { drainStep, uncordonStep } from './drain.js';
import { planEtcdSetup } from './etcd.js';
import { imagePushPhase } from './images.js';
import { step, type HostRun, type Phase, type Runbook, type Step } from './runbook.js';
import { nodes, primaryMaster, targetOf } from './topology.js';
import type { HostContext } from './types.js';
import { imageProblems, packageProblems } from './upgrade-images.js';
import {
  planUpgradePolicy,
  type BatchSize,
  type NodeRole,
  type NodeUpgrade,
  type NodeVersions,
  type UpgradePolicyPlan,
} from './upgrade-policy.js';

/** The workflow's input fields that shape the plan (the input itself fits: `{ ...input, stamp }`). */
export interface UpgradeOptions {
  target: string;
  workerBatch?: BatchSize | undefined;
  /** An approval before every node (masters and workers). */
  approveEach?: boolean | undefined;
  /** The operator confirmed on the command line (--yes): no approval gate before the first change. */
  approved?: boolean | undefined;
  /** UTC `YYYYMMDDTHHMMSSZ` of this run: names the snapshot and the backups. */
  stamp: string;
  drainTimeoutSeconds?: number | undefined;
  healthTimeoutSeconds?: number | undefined;
  /** The node repairs before `kubeadm upgrade apply|node` (default true; false: the plan of runs started before
   * them, see UPGRADE_PATCHES.nodeRepairs in src/workflows/upgrade.ts). */
  nodeRepairs?: boolean | undefined;
}

export interface UpgradePlan {
  policy: UpgradePolicyPlan;
  /** Empty phases when the policy refuses or nothing is to do. */
  runbook: Runbook;
  /** Nodes at the target but cordoned: only uncordoned. */
  uncordon: string[];
  /** Per node: what it runs now and what will change. */
  nodes: { name: string; now: string; change: string }[];
  /** What the plan could not check, and why (not a reason to refuse). */
  notes: string[];
}

export const DRAIN_TIMEOUT_SECONDS = 300;
export const HEALTH_TIMEOUT_SECONDS = 600;

const roleOf = (h: Host): NodeRole =>
  h.roles.includes('primary-master')
    ? 'primary-master'
    : h.roles.includes('secondary-master')
      ? 'secondary-master'
      : 'worker';

/** What the planner believes about each node, from the facts: the API's kubelet version when the node is
 * registered (what runs), else the binary's; the installed kubeadm package; the apiserver's static pod image. */
export function nodeVersions(inv: Inventory, facts: UpgradeFacts): NodeVersions[] {
  return nodes(inv).map((h) => {
    const f = facts.hosts.find((x) => x.name === h.name);
    const api = facts.nodes?.find((n) => n.name === h.name);
    const role = roleOf(h);
    return {
      name: h.name,
      role,
      kubelet: api?.kubeletVersion ?? f?.kubeletBinary ?? '',
      kubeadm: f?.versions.kubeadm ?? f?.kubeadmBinary ?? '',
      ...(role !== 'worker' && { apiserver: f?.staticPods['kube-apiserver']?.version ?? '' }),
    };
  });
}

export function planUpgrade(inv: Inventory, facts: UpgradeFacts, o: UpgradeOptions): UpgradePlan {
  const c = inv.cluster;
  const policy = planUpgradePolicy({
    target: o.target,
    nodes: nodeVersions(inv, facts),
    ...(facts.clusterVersion && { clusterVersion: facts.clusterVersion }),
    ...(o.workerBatch && { workerBatch: o.workerBatch }),
    offeredPackages: facts.offeredKubeadm,
  });
  policy.problems.push(...packageProblems(facts.offeredPackages, policy.packageVersion));
  if (facts.images) policy.problems.push(...imageProblems(facts.images));
  if (facts.apiError) policy.problems.push(`the API did not answer on the primary: ${facts.apiError}`);
  for (const h of nodes(inv)) {
    if (facts.nodes && !facts.nodes.some((n) => n.name === h.name))
      policy.problems.push(`${h.name}: not a node of the cluster (set it up first)`);
  }
  policy.allowed = policy.problems.length === 0;

  const primary = primaryMaster(inv);
  const ctx = (h: Host): HostContext => ({ target: targetOf(h), ssh: inv.ssh });
  const via = ctx(primary);
  const cluster = c.name;
  const byName = new Map(inv.hosts.map((h) => [h.name, h]));
  const done = new Set(policy.upToDate);
  const uncordon = (facts.nodes ?? []).filter((n) => n.cordoned && done.has(n.name)).map((n) => n.name);
  const drainTimeout = o.drainTimeoutSeconds ?? DRAIN_TIMEOUT_SECONDS;
  const healthTimeout = o.healthTimeoutSeconds ?? HEALTH_TIMEOUT_SECONDS;

  /** A node back where it was: its /etc/kubernetes copy, its previous packages, its kubelet, schedulable. */
  const rollback = (n: NodeUpgrade): Step[] => [
    step(
      'restoreKubernetesConfig',
      '/etc/kubernetes from the copy',
      'hostStep',
      { stamp: o.stamp },
      { bind: { backup: { from: 'backupKubernetesConfig', field: '' } } },
    ),
    step('installKubePackages', `kubelet, kubectl ${n.from.kubelet} again`, 'install', {
      version: n.from.kubelet,
      hold: c.packages.hold,
      packages: ['kubelet', 'kubectl'],
    }),
    step('installKubePackages', `kubeadm ${n.from.kubeadm} again`, 'install', {
      version: n.from.kubeadm,
      hold: c.packages.hold,
      packages: ['kubeadm'],
    }),
    step('restartKubelet', 'kubelet restarted', 'hostStep', {}),
    uncordonStep({ via, cluster, node: n.name }),
  ];
  const sandbox = sandboxImageAt(inv, policy.target);
  const repairs = (): Step[] =>
    o.nodeRepairs === false
      ? []
      : [
          ...(sandbox
            ? [step('setSandboxImage', `containerd sandbox image ${sandbox}`, 'hostStep', { image: sandbox })]
            : []),
          step('ensureCriSocket', 'CRI socket recorded for kubeadm', 'install', {}),
        ];
  const nodeSteps = (n: NodeUpgrade): Step[] => {
    const h = byName.get(n.name)!;
    const master = n.kind !== 'worker';
    const out: Step[] = [];
    for (const id of n.steps) {
      if (id === 'kubeadm-upgrade-apply' || id === 'kubeadm-upgrade-node') out.push(...repairs());
      switch (id) {
        case 'kubeadm-package':
          out.push(
            step('installKubePackages', `kubeadm ${policy.target}`, 'install', {
              version: policy.target,
              hold: c.packages.hold,
              packages: ['kubeadm'],
            }),
          );
          break;
        case 'kubeadm-upgrade-apply':
          out.push(
            step('kubeadmUpgradeApply', `kubeadm upgrade apply v${policy.target}`, 'install', {
              version: policy.target,
            }),
          );
          break;
        case 'kubeadm-upgrade-node':
          out.push(step('kubeadmUpgradeNode', 'kubeadm upgrade node', 'install', {}));
          break;
        case 'drain':
          out.push(drainStep({ via, cluster, node: n.name, timeoutSeconds: drainTimeout }));
          break;
        case 'kubelet-kubectl-packages':
          out.push(
            step('installKubePackages', `kubelet, kubectl ${policy.target}`, 'install', {
              version: policy.target,
              hold: c.packages.hold,
              packages: ['kubelet', 'kubectl'],
            }),
          );
          break;
        case 'kubelet-restart':
          out.push(step('restartKubelet', 'kubelet restarted', 'hostStep', {}));
          break;
        case 'uncordon':
          out.push(uncordonStep({ via, cluster, node: n.name }));
          break;
        case 'health':
          out.push(
            step('waitNodeUpgraded', master ? 'Ready, control plane healthy' : 'Ready', 'wait', {
              via,
              cluster,
              version: policy.target,
              controlPlane: master,
              timeoutSeconds: healthTimeout,
            }),
          );
          break;
      }
    }
    // The upgrade may have rewritten what keepalived and the load balancer rely on (the seed's NGINX note):
    // both are put back as setup configures them; unchanged config is left alone.
    if (master) {
      out.push(
        step('configureKeepalived', 'keepalived (VIP) re-applied', 'hostStep', {
          settings: keepalivedSettings(inv, h),
        }),
      );
      if (c.loadBalancer.kind !== 'none')
        out.push(
          step('configureLoadBalancer', `${c.loadBalancer.kind} re-applied`, 'hostStep', {
            kind: c.loadBalancer.kind,
            settings: loadBalancerSettings(inv),
          }),
        );
    }
    return out;
  };
  const run = (n: NodeUpgrade): HostRun => ({
    target: targetOf(byName.get(n.name)!),
    steps: nodeSteps(n),
    maySkip: n.kind === 'worker',
    rollback: rollback(n),
  });

  const phases: Phase[] = [];
  const todo = [...policy.masters, ...policy.workerBatches.flat()];
  if (policy.allowed && todo.length > 0) {
    const gate = o.approved ? {} : { approval: { scope: 'phase' as const } };
    const safety: Step[] = [];
    if (c.etcd.mode === 'external') {
      const etcd = planEtcdSetup(inv);
      safety.push(
        step('saveEtcdSnapshot', 'etcd snapshot into the operator store', 'install', {
          cluster,
          members: etcd.members.map((m) => ({ host: { target: m.target, ssh: inv.ssh }, clientUrl: m.clientUrl })),
          tls: etcd.healthcheckClient,
          stamp: o.stamp,
        }),
      );
    }
    safety.push(step('fetchAdminKubeconfig', 'admin kubeconfig into the local store', 'quick', { via, cluster }));
    phases.push({ id: 'safety', title: 'before any change', kind: 'once', steps: safety, ...gate });
    phases.push({
      id: 'backup',
      title: 'a copy of /etc/kubernetes on each node',
      kind: 'hosts',
      rollout: { kind: 'parallel' },
      hosts: todo.map((n) => ({
        target: targetOf(byName.get(n.name)!),
        steps: [step('backupKubernetesConfig', '/etc/kubernetes copied', 'hostStep', { stamp: o.stamp })],
        maySkip: false,
      })),
    });
    // Air-gapped hosts get the target's images before the first master asks for them.
    const images = imagePushPhase(inv, policy.target);
    if (images) phases.push(images);
    const each = o.approveEach ? { approval: { scope: 'host' as const } } : {};
    const first = policy.masters.filter((m) => m.kind === 'first-master');
    const others = policy.masters.filter((m) => m.kind !== 'first-master');
    if (first.length)
      phases.push({
        id: 'first-master',
        title: `first master: kubeadm upgrade apply ${policy.target}`,
        kind: 'hosts',
        rollout: { kind: 'serial' },
        hosts: first.map(run),
        ...each,
      });
    if (others.length)
      phases.push({
        id: 'masters',
        title: 'masters, one at a time',
        kind: 'hosts',
        rollout: { kind: 'serial' },
        hosts: others.map(run),
        ...each,
      });
    const workers = policy.workerBatches.flat();
    if (workers.length)
      phases.push({
        id: 'workers',
        title: 'workers, in batches',
        kind: 'hosts',
        rollout: { kind: 'batches', size: policy.workerBatches[0]!.length },
        hosts: workers.map(run),
        ...each,
      });
  }
  if (policy.allowed && uncordon.length > 0) {
    if (!phases.some((p) => p.id === 'safety'))
      phases.push({
        id: 'safety',
        title: 'admin kubeconfig',
        kind: 'once',
        steps: [step('fetchAdminKubeconfig', 'admin kubeconfig into the local store', 'quick', { via, cluster })],
      });
    phases.push({
      id: 'leftovers',
      title: 'nodes at the target left cordoned',
      kind: 'hosts',
      rollout: { kind: 'parallel' },
      hosts: uncordon.map((name) => ({
        target: targetOf(byName.get(name)!),
        steps: [uncordonStep({ via, cluster, node: name })],
        maySkip: true,
      })),
    });
  }

  const versions = nodeVersions(inv, facts);
  const change = (name: string): string => {
    if (uncordon.includes(name)) return 'uncordon';
    if (done.has(name)) return 'nothing (at the target)';
    const m = policy.masters.find((x) => x.name === name);
    if (m) return `${m.kind === 'first-master' ? 'kubeadm upgrade apply' : 'kubeadm upgrade node'} → ${policy.target}`;
    const b = policy.workerBatches.findIndex((x) => x.some((w) => w.name === name));
    return b >= 0 ? `worker batch ${b + 1} → ${policy.target}` : 'nothing';
  };
  return {
    policy,
    runbook: {
      operation: 'upgrade',
      title: `cluster upgrade to ${policy.target}`,
      cluster,
      kubernetesVersion: policy.target,
      ssh: inv.ssh,
      onFailure: 'decide',
      phases,
    },
    uncordon,
    notes: [
      ...(sandbox === undefined && o.nodeRepairs !== false
        ? [`containerd's sandbox image not set: no pause image known for ${policy.target}`]
        : []),
      ...(facts.images?.unchecked ? [`images not checked: ${facts.images.unchecked}`] : []),
      ...(facts.images ? [] : ['images not checked: not read for this run']),
    ],
    nodes: versions.map((v) => {
      const api = facts.nodes?.find((n) => n.name === v.name);
      const f = facts.hosts.find((x) => x.name === v.name);
      const now = [
        `kubelet ${v.kubelet || '?'}`,
        `kubeadm ${v.kubeadm || '?'}`,
        ...(v.apiserver !== undefined ? [`apiserver ${v.apiserver || '?'}`] : []),
        api ? (api.ready ? 'Ready' : 'NotReady') : 'not registered',
        ...(api?.cordoned ? ['cordoned'] : []),
        ...(f && f.held.length ? [`held: ${f.held.join(',')}`] : []),
      ].join(', ');
      return { name: v.name, now, change: change(v.name) };
    }),
  };
}

/** `upgrade plan` and `upgrade --dry-run`: per node, what it runs and what will change, then the verdict. */
export function describeUpgrade(p: UpgradePlan): string[] {
  const lines = [
    `upgrade to ${p.policy.target} (packages ${p.policy.packageVersion || 'not offered'}): ${p.policy.allowed ? 'allowed' : 'refused'}`,
    ...p.policy.problems.map((x) => `  problem: ${x}`),
    ...p.notes.map((x) => `  note: ${x}`),
  ];
  const steps = p.runbook.phases.flatMap((x) => (x.kind === 'hosts' ? x.hosts.flatMap((h) => h.steps) : []));
  const repair = (id: string) => steps.find((s) => s.id === id)?.title;
  const repairs = [repair('setSandboxImage'), repair('ensureCriSocket') && 'the CRI socket annotation where missing'];
  if (repairs.some(Boolean))
    lines.push(`  before kubeadm on each node: ${repairs.filter(Boolean).join('; ')} (each only if not so already)`);
  const w = Math.max(...p.nodes.map((n) => n.name.length));
  for (const n of p.nodes) lines.push(`  ${n.name.padEnd(w)}  ${n.now}  →  ${n.change}`);
  if (p.policy.allowed && p.runbook.phases.length === 0)
    lines.push(`nothing to do: every node runs ${p.policy.target}`);
  return lines;
}
