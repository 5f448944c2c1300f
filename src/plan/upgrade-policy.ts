// Version skew policy and the order of an upgrade, as a pure function of each node's current versions and a
// target. `upgrade plan` prints it and the upgrade workflow executes it; a resumed run calls it again on freshly
// read versions, so nodes already at the target drop out and nothing done is redone.
//
// The rules, from https://kubernetes.io/releases/version-skew-policy/ (read 2026-12):
//  - "In highly-available (HA) clusters, the newest and oldest kube-apiserver instances must be within one minor
//    version."  → the control plane moves one minor at a time; kubeadm refuses to skip a minor as well.
//  - "kubelet must not be newer than kube-apiserver." → kubelets are upgraded only after every apiserver is at
//    the target, and a kubelet already newer than some apiserver is a problem to fix first.
//  - "kubelet may be up to three minor versions older than kube-apiserver (kubelet < 1.25 may only be up to two
//    minor versions older)." → every kubelet must be within three minors of the target before the control plane
//    moves (we support 1.28+, so the two-minor exception never applies, but is kept for clarity).
import { K8S_PACKAGE_REVISION, kubernetesPackageVersion } from './package-version.js';
import { batches } from './topology.js';

export interface Version {
  major: number;
  minor: number;
  patch: number;
}

export type NodeRole = 'primary-master' | 'secondary-master' | 'worker';

/** What was read from one node before planning. Versions without a leading `v`. */
export interface NodeVersions {
  name: string;
  role: NodeRole;
  /** kube-apiserver image version of the node's static pod (masters only). */
  apiserver?: string;
  /** The version the node's kubelet reports (`kubectl get node`), i.e. what runs. */
  kubelet: string;
  /** Upstream version of the installed kubeadm package. */
  kubeadm: string;
}

/** Worker batches: a count of nodes, or a percentage of the workers; always at least one node. */
export type BatchSize = { count: number } | { percent: number };

export interface UpgradePolicyInput {
  target: string;
  nodes: NodeVersions[];
  /** kubeadm-config's ClusterConfiguration.kubernetesVersion when read: tells whether `upgrade apply` already ran. */
  clusterVersion?: string;
  workerBatch?: BatchSize;
  /** `apt-cache madison kubeadm` versions offered by the mirror, when known: the package must be among them. */
  offeredPackages?: string[];
}

export type UpgradeStepId =
  | 'kubeadm-package'
  | 'kubeadm-upgrade-apply'
  | 'kubeadm-upgrade-node'
  | 'drain'
  | 'kubelet-kubectl-packages'
  | 'kubelet-restart'
  | 'uncordon'
  | 'health';

export type NodeUpgradeKind = 'first-master' | 'master' | 'worker';

export interface NodeUpgrade {
  name: string;
  kind: NodeUpgradeKind;
  from: { kubelet: string; kubeadm: string; apiserver?: string };
  steps: UpgradeStepId[];
}

export interface UpgradePolicyPlan {
  target: string;
  /** Debian version of kubeadm/kubelet/kubectl for the target, e.g. 1.34.12-1.1. */
  packageVersion: string;
  allowed: boolean;
  /** Why not, one line each; empty when allowed. */
  problems: string[];
  /** Masters one at a time, in this order (the first one runs `kubeadm upgrade apply` unless it already ran). */
  masters: NodeUpgrade[];
  /** Workers, batch by batch, after every master. */
  workerBatches: NodeUpgrade[][];
  /** Nodes already at the target: nothing to do. */
  upToDate: string[];
}

export function parseVersion(v: string): Version | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(v.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

const show = (v: Version): string => `${v.major}.${v.minor}.${v.patch}`;
/** Minor distance b - a, counting majors as infinitely far (Kubernetes 2.x does not exist; refuse it plainly). */
const minorsBetween = (a: Version, b: Version): number =>
  a.major === b.major ? b.minor - a.minor : Number.POSITIVE_INFINITY * Math.sign(b.major - a.major);

/** The skew rule for kubelets behind the apiserver, by kubelet minor. */
export const maxKubeletLag = (kubelet: Version): number => (kubelet.major === 1 && kubelet.minor < 25 ? 2 : 3);

/** Worker batch size for `workers` nodes: at least one, never more than there are. */
export function batchSize(workers: number, size: BatchSize = { count: 1 }): number {
  const n =
    'count' in size ? Math.floor(size.count) : Math.floor((workers * Math.min(Math.max(size.percent, 0), 100)) / 100);
  return Math.max(1, Math.min(n, Math.max(workers, 1)));
}

const MASTER_STEPS = (upgrade: 'kubeadm-upgrade-apply' | 'kubeadm-upgrade-node'): UpgradeStepId[] => [
  'kubeadm-package',
  upgrade,
  'drain',
  'kubelet-kubectl-packages',
  'kubelet-restart',
  'uncordon',
  'health',
];
// kubeadm's order for workers too ("Upgrading Linux nodes"): kubeadm, `upgrade node`, drain, kubelet, uncordon.
const WORKER_STEPS = MASTER_STEPS('kubeadm-upgrade-node');

export function planUpgradePolicy(input: UpgradePolicyInput): UpgradePolicyPlan {
  const problems: string[] = [];
  const target = parseVersion(input.target);
  const packageVersion = target
    ? (kubernetesPackageVersion(show(target), input.offeredPackages) ?? '')
    : `${input.target}-${K8S_PACKAGE_REVISION}`;
  const empty = { masters: [], workerBatches: [], upToDate: [] };
  if (!target) {
    return {
      target: input.target,
      packageVersion,
      allowed: false,
      problems: [`invalid target ${input.target}`],
      ...empty,
    };
  }
  const t = show(target);
  if (!packageVersion) {
    problems.push(
      `the package mirror offers no kubeadm ${t} (offered: ${input.offeredPackages?.join(', ') || 'none'})`,
    );
  }

  const parsed = input.nodes.map((n) => {
    const v = {
      kubelet: parseVersion(n.kubelet),
      kubeadm: parseVersion(n.kubeadm),
      apiserver: n.apiserver === undefined ? undefined : parseVersion(n.apiserver),
    };
    if (!v.kubelet) problems.push(`${n.name}: unreadable kubelet version "${n.kubelet}"`);
    if (!v.kubeadm) problems.push(`${n.name}: unreadable kubeadm version "${n.kubeadm}"`);
    if (n.role !== 'worker' && !v.apiserver) {
      problems.push(`${n.name}: unreadable kube-apiserver version "${n.apiserver ?? '(none)'}"`);
    }
    return { node: n, ...v };
  });

  const masters = parsed.filter((p) => p.node.role !== 'worker');
  if (masters.length === 0) problems.push('no master among the nodes: nothing to upgrade the control plane on');
  const apiservers = masters.flatMap((m) => (m.apiserver ? [m.apiserver] : []));
  const sorted = [...apiservers].sort(compareVersions);
  const oldestApi = sorted[0];
  const newestApi = sorted[sorted.length - 1];

  if (oldestApi && newestApi) {
    // One minor at a time: the oldest apiserver (the whole control plane ends there) may move one minor up.
    const step = minorsBetween(oldestApi, target);
    if (step > 1) {
      problems.push(
        `${t} is ${step === Number.POSITIVE_INFINITY ? 'a new major version' : `${step} minor versions`} ahead of ` +
          `the oldest kube-apiserver (${show(oldestApi)}): upgrade one minor version at a time ` +
          `(first to ${oldestApi.major}.${oldestApi.minor + 1})`,
      );
    }
    if (compareVersions(target, newestApi) < 0) {
      problems.push(`${t} is older than the newest kube-apiserver (${show(newestApi)}): downgrades are not supported`);
    }
    if (minorsBetween(oldestApi, newestApi) > 1) {
      problems.push(
        `kube-apiservers span ${show(oldestApi)}..${show(newestApi)}, more than one minor version: ` +
          `the cluster is already outside the skew policy`,
      );
    }
    for (const p of parsed) {
      if (!p.kubelet) continue;
      // kubeadm's own HA procedure upgrades a master's kubelet right after that master's control plane, while
      // others still run the old apiserver; that transient state is what a resumed run finds, so a master's
      // kubelet may match its own apiserver. Anything else newer than the oldest apiserver breaks the rule.
      const ownApiserver = p.apiserver && compareVersions(p.kubelet, p.apiserver) <= 0;
      if (compareVersions(p.kubelet, target) > 0) {
        problems.push(`${p.node.name}: kubelet ${show(p.kubelet)} is newer than the target ${t}`);
      } else if (compareVersions(p.kubelet, oldestApi) > 0 && !ownApiserver) {
        problems.push(
          `${p.node.name}: kubelet ${show(p.kubelet)} is newer than kube-apiserver ${show(oldestApi)} ` +
            `(a kubelet must not be newer than the apiserver)`,
        );
      }
      // Until its turn, a kubelet talks to apiservers at the target: it must stay within the allowed lag.
      const lag = minorsBetween(p.kubelet, target);
      if (lag > maxKubeletLag(p.kubelet)) {
        problems.push(
          `${p.node.name}: kubelet ${show(p.kubelet)} is ${lag} minor versions behind ${t}, more than the ` +
            `${maxKubeletLag(p.kubelet)} the skew policy allows: upgrade it within its current control plane first`,
        );
      }
    }
  }
  for (const p of parsed) {
    if (p.kubeadm && compareVersions(p.kubeadm, target) > 0) {
      problems.push(`${p.node.name}: kubeadm ${show(p.kubeadm)} is newer than the target ${t}`);
    }
  }

  const atTarget = (v: Version | undefined): boolean => v !== undefined && compareVersions(v, target) === 0;
  const done = (p: (typeof parsed)[number]): boolean =>
    atTarget(p.kubelet) && atTarget(p.kubeadm) && (p.node.role === 'worker' || atTarget(p.apiserver));
  const upToDate = parsed.filter(done).map((p) => p.node.name);

  // `kubeadm upgrade apply` runs once per cluster: skip it when the cluster configuration (or, unread, some
  // apiserver) already says the target.
  const applied =
    input.clusterVersion !== undefined
      ? atTarget(parseVersion(input.clusterVersion))
      : apiservers.some((a) => atTarget(a));
  const orderedMasters = [
    ...masters.filter((m) => m.node.role === 'primary-master'),
    ...masters.filter((m) => m.node.role === 'secondary-master'),
  ].filter((m) => !done(m));
  let applyPending = !applied;
  const toUpgrade = (p: (typeof parsed)[number], kind: NodeUpgradeKind, steps: UpgradeStepId[]): NodeUpgrade => ({
    name: p.node.name,
    kind,
    from: {
      kubelet: p.node.kubelet,
      kubeadm: p.node.kubeadm,
      ...(p.node.apiserver !== undefined && { apiserver: p.node.apiserver }),
    },
    // A package already at the target (a run that died after installing it) is not installed again.
    steps: steps.filter((s) => !(s === 'kubeadm-package' && atTarget(p.kubeadm))),
  });
  const masterPlan = orderedMasters.map((m) => {
    const first = applyPending;
    applyPending = false;
    return first
      ? toUpgrade(m, 'first-master', MASTER_STEPS('kubeadm-upgrade-apply'))
      : toUpgrade(m, 'master', MASTER_STEPS('kubeadm-upgrade-node'));
  });
  const workers = parsed.filter((p) => p.node.role === 'worker' && !done(p));
  const workerPlan = workers.map((w) => toUpgrade(w, 'worker', WORKER_STEPS));
  const size = batchSize(workerPlan.length, input.workerBatch);

  return {
    target: t,
    packageVersion,
    allowed: problems.length === 0,
    problems,
    masters: masterPlan,
    workerBatches: workerPlan.length ? batches(workerPlan, size) : [],
    upToDate,
  };
}

/** One line per node, for `upgrade plan` and `--dry-run`. */
export function describeUpgradePolicy(plan: UpgradePolicyPlan): string[] {
  const lines = [
    `upgrade to ${plan.target} (packages ${plan.packageVersion || 'not offered'}): ${plan.allowed ? 'allowed' : 'refused'}`,
    ...plan.problems.map((p) => `  problem: ${p}`),
  ];
  for (const m of plan.masters) lines.push(`${m.name} (${m.kind}, kubelet ${m.from.kubelet}): ${m.steps.join(', ')}`);
  plan.workerBatches.forEach((b, i) => {
    for (const w of b)
      lines.push(`${w.name} (worker, batch ${i + 1}, kubelet ${w.from.kubelet}): ${w.steps.join(', ')}`);
  });
  if (plan.upToDate.length) lines.push(`already at ${plan.target}: ${plan.upToDate.join(', ')}`);
  return lines;
}
