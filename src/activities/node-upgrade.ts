// The upgrade's host work (issue 12): read each node's actual state, `kubeadm upgrade apply|node`, restart the
// kubelet, and the health gate after each node. The facts feed the upgrade planner
// (src/plan/upgrade.ts), so `upgrade plan`, the workflow and a resumed run all plan from what the hosts say now,
// never from what an earlier run believed it did.
import { FailureType, InvalidInputError, KubeadmHaError } from '../errors.js';
import type { HostContext } from '../plan/types.js';
import { heartbeat, keepAlive, pause } from './activity-context.js';
import type { ActivityDeps } from './deps.js';
import { madisonEntries } from './etcd.js';
import { withFailures } from './failures.js';
import { createKubectl, type KubeApiOptions } from './kube-api.js';
import { parseProbe, upstreamOf } from './kube-packages.js';
import type { UpgradeImageFacts } from './upgrade-images.js';

/** What one host says about itself. Versions without a leading v. */
export interface HostUpgradeFacts {
  name: string;
  /** Installed Debian version of kubeadm, kubelet, kubectl (absent: not installed). */
  packages: Record<string, string>;
  /** Upstream part of each, e.g. { kubeadm: '1.34.12' }. */
  versions: Record<string, string>;
  held: string[];
  /** `kubelet --version` / `kubeadm version` of the binaries on disk (what runs after the next restart). */
  kubeletBinary?: string;
  kubeadmBinary?: string;
  /** Static pod manifests: component → image, and its tag without the v. */
  staticPods: Record<string, { image: string; version?: string }>;
}

/** What the API says about a node (read once, on the primary). */
export interface NodeApiFacts {
  name: string;
  kubeletVersion: string;
  ready: boolean;
  cordoned: boolean;
}

export interface UpgradeFacts {
  hosts: HostUpgradeFacts[];
  /** Absent when the API could not be read (apiError says why). */
  nodes?: NodeApiFacts[];
  apiError?: string;
  /** kubeadm-config's ClusterConfiguration.kubernetesVersion, without the v. */
  clusterVersion?: string;
  /** kubeadm versions the primary's package sources offer (`apt-cache madison kubeadm`). */
  offeredKubeadm: string[];
  /** The same for kubelet and kubectl (the plan checks the target's are there too). */
  offeredPackages?: Record<string, string[]>;
  /** Where the target's images are: on the nodes, else in the registry (readUpgradeImages; absent when not read). */
  images?: UpgradeImageFacts;
  /** `kubeadm upgrade plan` on the primary, when asked (its last lines; informational). */
  kubeadmPlan?: string;
}

export interface ReadUpgradeFactsInput {
  hosts: HostContext[];
  /** Where the API and the package sources are read (the primary master). */
  primary: HostContext;
  /** When the sources do not offer it, refresh them once (`apt-get update`) and look again. */
  target?: string;
  /** Also run `kubeadm upgrade plan` (read-only) on the primary: the CLI's `upgrade plan` shows its verdict. */
  kubeadmPlan?: boolean;
}

const MANIFESTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd'];

// One round trip per host: packages and holds (the same probe as the install), the static pods' images, and the
// binaries' own versions.
const hostScript = [
  `dpkg-query -W -f '\${Package} \${Version} \${db:Status-Abbrev}\\n' kubeadm kubelet kubectl 2>/dev/null || true`,
  `echo "held $(apt-mark showhold kubeadm kubelet kubectl 2>/dev/null | tr '\\n' ' ')"`,
  `for c in ${MANIFESTS.join(' ')}; do f=/etc/kubernetes/manifests/$c.yaml; [ -f "$f" ] && echo "image $c $(sed -n 's/^[[:space:]]*image:[[:space:]]*//p' "$f" | head -n1)"; done`,
  `echo "kubelet-binary $(kubelet --version 2>/dev/null | sed 's/^Kubernetes //')"`,
  `echo "kubeadm-binary $(kubeadm version -o short 2>/dev/null)"`,
].join('\n');

// The primary adds the cluster's view, through its own admin.conf (the local store may not have one yet): nodes,
// the kubeadm ClusterConfiguration's version, and what the package sources offer. $1: target or empty; $2: 1 to
// run `kubeadm upgrade plan`.
const primaryScript = [
  'K="kubectl --kubeconfig /etc/kubernetes/admin.conf --request-timeout=20s"',
  `if out=$($K get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status} {.spec.unschedulable}{"\\n"}{end}' 2>&1); then`,
  '  printf "%s\\n" "$out" | sed "s/^/node /"',
  'else echo "api-error $(printf "%s" "$out" | tail -n1)"; fi',
  `$K -n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}' 2>/dev/null | sed -n 's/^kubernetesVersion:[[:space:]]*v*/cluster-version /p'`,
  'm=$(apt-cache madison kubeadm kubelet kubectl 2>/dev/null)',
  'if [ -n "$1" ] && ! printf "%s\\n" "$m" | grep -q "| *$1-"; then apt-get update -q >/dev/null 2>&1 || true; m=$(apt-cache madison kubeadm kubelet kubectl 2>/dev/null); fi',
  'printf "%s\\n" "$m" | sed "s/^/madison /"',
  'if [ "$2" = 1 ]; then kubeadm upgrade plan "v$1" 2>&1 | tail -n 40 | sed "s/^/kubeadm-plan /"; fi',
].join('\n');

const noV = (v: string): string => v.trim().replace(/^v/, '');

export function parseHostFacts(name: string, text: string): HostUpgradeFacts {
  const probe = parseProbe(text);
  const staticPods: HostUpgradeFacts['staticPods'] = {};
  let kubeletBinary: string | undefined;
  let kubeadmBinary: string | undefined;
  for (const line of text.split('\n')) {
    const [kind, a, b] = line.trim().split(/\s+/);
    if (kind === 'image' && a && b) {
      const tag = b.slice(b.lastIndexOf(':') + 1);
      staticPods[a] = { image: b, ...(/^v?\d+\.\d+\.\d+/.test(tag) && { version: noV(tag).split(/[-+]/)[0] }) };
    } else if (kind === 'kubelet-binary' && a) kubeletBinary = noV(a);
    else if (kind === 'kubeadm-binary' && a) kubeadmBinary = noV(a);
  }
  const packages = Object.fromEntries(probe.versions);
  return {
    name,
    packages,
    versions: Object.fromEntries(Object.entries(packages).map(([k, v]) => [k, upstreamOf(v)])),
    held: [...probe.held].sort(),
    ...(kubeletBinary && { kubeletBinary }),
    ...(kubeadmBinary && { kubeadmBinary }),
    staticPods,
  };
}

export function parsePrimaryFacts(text: string): Omit<UpgradeFacts, 'hosts'> {
  const nodes: NodeApiFacts[] = [];
  let apiError: string | undefined;
  let clusterVersion: string | undefined;
  const madison: string[] = [];
  const plan: string[] = [];
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    const kind = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? '' : line.slice(sp + 1);
    if (kind === 'node') {
      const [name, kubelet, ready, unschedulable] = rest.trim().split(/\s+/);
      if (name && kubelet)
        nodes.push({ name, kubeletVersion: noV(kubelet), ready: ready === 'True', cordoned: unschedulable === 'true' });
    } else if (kind === 'api-error') apiError = rest.trim() || 'the API did not answer';
    else if (kind === 'cluster-version' && rest.trim()) clusterVersion = noV(rest);
    else if (kind === 'madison') madison.push(rest);
    else if (kind === 'kubeadm-plan') plan.push(rest);
  }
  const entries = madisonEntries(madison.join('\n'));
  const offered = (pkg: string) => entries.filter((e) => e.pkg === pkg).map((e) => e.version);
  return {
    ...(apiError ? { apiError } : { nodes }),
    ...(clusterVersion && { clusterVersion }),
    offeredKubeadm: offered('kubeadm'),
    offeredPackages: { kubelet: offered('kubelet'), kubectl: offered('kubectl') },
    ...(plan.length && { kubeadmPlan: plan.join('\n') }),
  };
}

export interface NodeStepInput {
  host: HostContext;
  /** The master kubectl runs on, with the stored admin kubeconfig (through the cluster's endpoint). */
  via: HostContext;
  cluster: string;
}

export interface WaitNodeUpgradedInput extends NodeStepInput {
  version: string;
  /** Also: its control-plane pods Ready at the version, the apiserver and its etcd ready through the endpoint. */
  controlPlane: boolean;
  timeoutSeconds: number;
  intervalMs?: number;
}

export interface NodeHealth {
  node: string;
  kubeletVersion: string;
  ready: boolean;
  /** Control-plane pods of the node and whether each is Ready at the version (masters only). */
  pods: Record<string, boolean>;
  elapsedMs: number;
}

const nodeName = /^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;
const version = /^\d+\.\d+\.\d+$/;

export function createNodeUpgradeActivities(deps: ActivityDeps, opts: KubeApiOptions = {}) {
  const { kubectl } = createKubectl(deps, opts);
  const node = (host: HostContext): string => {
    const n = host.target.name;
    if (!nodeName.test(n)) throw new InvalidInputError(`invalid node name ${n}`);
    return n;
  };

  return {
    /** Every host's facts and the cluster's, one SSH round trip per host (the primary's carries the API part). */
    async readUpgradeFacts({ hosts, primary, target, kubeadmPlan }: ReadUpgradeFactsInput): Promise<UpgradeFacts> {
      return withFailures(async () => {
        if (target !== undefined && !version.test(target)) throw new InvalidInputError(`invalid version ${target}`);
        const [cluster, ...perHost] = await Promise.all([
          deps.session(primary).run(['sh', '-c', primaryScript, 'sh', target ?? '', kubeadmPlan ? '1' : '0'], {
            action: 'read the cluster state',
            timeoutMs: 300_000,
          }),
          ...hosts.map((h) =>
            deps.session(h).run({ script: hostScript }, { action: 'read the node state', timeoutMs: 60_000 }),
          ),
        ]);
        return {
          hosts: hosts.map((h, i) => parseHostFacts(h.target.name, perHost[i]!.stdout)),
          ...parsePrimaryFacts(cluster.stdout),
        };
      });
    },

    /** `kubeadm upgrade apply v<version> --yes` on the first master: the control plane and the cluster's config. */
    async kubeadmUpgradeApply({
      host,
      version: v,
    }: {
      host: HostContext;
      version: string;
    }): Promise<{ host: string; durationMs: number }> {
      return withFailures(async () => {
        if (!version.test(v)) throw new InvalidInputError(`invalid version ${v}`);
        const t0 = deps.now();
        await keepAlive(
          deps.session(host).run(['kubeadm', 'upgrade', 'apply', `v${v}`, '--yes'], {
            action: 'kubeadm upgrade apply',
            timeoutMs: 1_200_000,
          }),
          { host: host.target.name, step: 'kubeadm upgrade apply' },
        );
        return { host: host.target.name, durationMs: deps.now() - t0 };
      });
    },

    /** `kubeadm upgrade node`: another master's control plane, or a worker's kubelet configuration. */
    async kubeadmUpgradeNode({ host }: { host: HostContext }): Promise<{ host: string; durationMs: number }> {
      return withFailures(async () => {
        const t0 = deps.now();
        await keepAlive(
          deps.session(host).run(['kubeadm', 'upgrade', 'node'], {
            action: 'kubeadm upgrade node',
            timeoutMs: 1_200_000,
          }),
          { host: host.target.name, step: 'kubeadm upgrade node' },
        );
        return { host: host.target.name, durationMs: deps.now() - t0 };
      });
    },

    /** The kubelet again, with the new binary and the configuration `kubeadm upgrade` wrote. */
    async restartKubelet({ host }: { host: HostContext }): Promise<{ host: string; kubelet: string }> {
      return withFailures(async () => {
        // Without systemd (the lab's hosts, containers) the kubelet runs under a supervisor that restarts it when it
        // exits, as Restart=always does: ending it is the restart.
        const r = await deps.session(host).run(
          {
            script: [
              'if [ -d /run/systemd/system ]; then systemctl daemon-reload && systemctl restart kubelet',
              'else pkill -x kubelet || true; fi',
              'kubelet --version | sed "s/^Kubernetes v*//"',
            ].join('\n'),
          },
          { action: 'restart the kubelet', timeoutMs: 120_000 },
        );
        return { host: host.target.name, kubelet: r.stdout.trim() };
      });
    },

    /** The health gate after a node: Ready with its kubelet at the version; for a master also its control-plane
     * pods Ready at the version, and the apiserver (with its etcd) ready through the cluster's endpoint. */
    async waitNodeUpgraded({
      host,
      via,
      cluster,
      version: v,
      controlPlane,
      timeoutSeconds,
      intervalMs = 1_000,
    }: WaitNodeUpgradedInput): Promise<NodeHealth> {
      return withFailures(async () => {
        const name = node(host);
        const t0 = deps.now();
        let last = '';
        for (;;) {
          const problems: string[] = [];
          const n = (
            await kubectl({
              via,
              cluster,
              args: [
                'get',
                'node',
                name,
                '-o',
                'jsonpath={.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status}',
              ],
            }).catch((e: unknown) => `error ${e instanceof Error ? e.message : String(e)}`)
          ).trim();
          const [kubelet = '', ready = ''] = n.split(/\s+/);
          if (noV(kubelet) !== v) problems.push(`kubelet ${kubelet || '?'}`);
          if (ready !== 'True') problems.push('not Ready');
          const pods: Record<string, boolean> = {};
          if (controlPlane) {
            const out = await kubectl({
              via,
              cluster,
              args: [
                '-n',
                'kube-system',
                'get',
                'pods',
                '-l',
                'tier=control-plane',
                '--field-selector',
                `spec.nodeName=${name}`,
                '-o',
                'jsonpath={range .items[*]}{.metadata.labels.component} {.spec.containers[0].image} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
              ],
            }).catch(() => '');
            for (const line of out.split('\n').filter(Boolean)) {
              const [component = '', image = '', podReady = ''] = line.split(' ');
              pods[component] = podReady === 'True' && noV(image.slice(image.lastIndexOf(':') + 1)) === v;
            }
            for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
              if (!pods[c]) problems.push(`${c} not Ready at ${v}`);
            }
            const readyz = await kubectl({ via, cluster, args: ['get', '--raw', '/readyz'] }).catch(() => '');
            if (readyz.trim() !== 'ok') problems.push('apiserver not ready through the endpoint');
            const etcd = await kubectl({ via, cluster, args: ['get', '--raw', '/readyz/etcd'] }).catch(() => '');
            if (etcd.trim() !== 'ok') problems.push('etcd not ready');
          }
          const elapsedMs = deps.now() - t0;
          if (problems.length === 0) return { node: name, kubeletVersion: noV(kubelet), ready: true, pods, elapsedMs };
          last = problems.join(', ');
          if (elapsedMs > timeoutSeconds * 1000)
            throw new KubeadmHaError(
              `not healthy after ${timeoutSeconds} s: ${last}`,
              FailureType.CommandFailed,
              host.target.name,
            );
          heartbeat({ node: name, waiting: last });
          await pause(intervalMs);
        }
      });
    },
  };
}
