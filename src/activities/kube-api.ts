// Talking to the cluster once it runs. The admin kubeconfig is fetched from the primary into the local store
// (stateDir/clusters/<cluster>/admin.conf, 0600; it holds the cluster-admin key, so never into history), and every
// kubectl call runs on a master with THAT kubeconfig handed over on stdin (`--kubeconfig=/dev/stdin`): the calls go
// through the cluster's endpoint (VIP or load balancer) like a user's, and no credential is left on the host.
// The pod network goes the same way: its manifest (not secret) is uploaded next to kubeadm's config and applied
// server-side, so a rerun of the same manifest is a no-op the API server itself confirms.
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FailureType, InvalidInputError, KubeadmHaError } from '../errors.js';
import type { RunResult } from '../ssh/exec.js';
import { stateDir } from '../paths.js';
import type { PodNetworkSource } from '../plan/pod-network.js';
import type { HostContext } from '../plan/types.js';
import { flannelManifest, FlannelValuesError } from '../templates/flannel.js';
import { heartbeat, pause } from './activity-context.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { writeTemp } from './pki-store.js';

export const ADMIN_CONF = '/etc/kubernetes/admin.conf';

export interface KubeApiOptions {
  /** Where a cluster's admin kubeconfig is kept; default stateDir/clusters/<cluster>/admin.conf. */
  kubeconfigPath?: (cluster: string) => string;
}

export interface FetchKubeconfigResult {
  path: string;
  changed: boolean;
  /** SHA-256 of the file, to compare runs without its content. */
  sha256: string;
}

// Cluster-wide steps name the master they work through `via`, not `host`: a runbook adds `host` only to per-host
// steps, and these run once for the whole cluster.
export interface KubectlInput {
  via: HostContext;
  cluster: string;
  args: string[];
  timeoutSeconds?: number;
  /** kubectl's stdin (a manifest for `-f -`); the kubeconfig then comes first on the same stream (see createKubectl). */
  input?: string;
}

export interface WaitNodesReadyInput {
  via: HostContext;
  cluster: string;
  nodes: string[];
  timeoutSeconds: number;
  intervalMs?: number;
}

export interface NodesReadyResult {
  ready: string[];
  notReady: string[];
  elapsedMs: number;
}

export const POD_NETWORK_MANIFEST = '/etc/kubernetes/kubeadm2ha/pod-network.yaml';
/** Owner of the fields we apply (server-side apply): a rerun by the same manager with the same manifest changes nothing. */
export const FIELD_MANAGER = 'kubeadm2ha';

export interface ApplyPodNetworkInput {
  via: HostContext;
  cluster: string;
  network: PodNetworkSource;
  /** Each node's CNI plugin directory (configureContainerd's cniBinDir, bound at run time): flannel installs its
   * plugin there from a DaemonSet, which has one hostPath for every node. */
  cniBinDirs?: Record<string, string>;
}

export interface ApplyPodNetworkResult {
  /** How many objects the manifest holds. */
  objects: number;
  /** kind/namespace/name of each object this apply created or changed (its resourceVersion moved). */
  changed: string[];
  manifestSha256: string;
}

/** Default flannel CNI dir when no node reported one (upstream's). */
const DEFAULT_CNI_BIN_DIR = '/opt/cni/bin';

function flannelCniBinDir(dirs: Record<string, string> = {}): string {
  const distinct = [...new Set(Object.values(dirs))];
  if (distinct.length > 1)
    throw new InvalidInputError(
      `nodes keep CNI plugins in different directories (${Object.entries(dirs)
        .map(([h, d]) => `${h} ${d}`)
        .join(', ')}); flannel's DaemonSet installs its plugin into one directory on every node`,
    );
  return distinct[0] ?? DEFAULT_CNI_BIN_DIR;
}

/** The manifest applyPodNetwork applies for this input (the setup facts compare the primary's copy with it). */
export async function podNetworkManifest(input: ApplyPodNetworkInput): Promise<string> {
  const n = input.network;
  if (n.kind === 'manifest') {
    try {
      return await readFile(n.path, 'utf8');
    } catch (e) {
      throw new InvalidInputError(`cannot read the pod network manifest ${n.path}: ${(e as Error).message}`);
    }
  }
  try {
    return flannelManifest({ ...n.values, cniBinDir: flannelCniBinDir(input.cniBinDirs) });
  } catch (e) {
    if (e instanceof FlannelValuesError) throw new InvalidInputError(`flannel: ${e.message}`);
    throw e;
  }
}

/** One line per object: kind namespace name resourceVersion (custom-columns prints one row per object, whether
 * kubectl got one object or a list). */
export const OBJECT_VERSIONS = [
  '-o',
  'custom-columns=KIND:.kind,NAMESPACE:.metadata.namespace,NAME:.metadata.name,VERSION:.metadata.resourceVersion',
  '--no-headers',
];

export function parseVersions(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [kind, ns, name, version] = line.trim().split(/\s+/);
    if (kind && name && version) m.set(`${kind}/${ns === '<none>' ? '' : ns}/${name}`, version);
  }
  return m;
}

const clusterName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Where the local store keeps a cluster's admin kubeconfig. */
export function adminKubeconfigPath(cluster: string, opts: KubeApiOptions = {}): string {
  if (!clusterName.test(cluster)) throw new InvalidInputError(`invalid cluster name ${cluster}`);
  return opts.kubeconfigPath?.(cluster) ?? stateDir('clusters', cluster, 'admin.conf');
}

// With an input, stdin carries the kubeconfig's bytes and then the input: bash reads exactly the kubeconfig's length
// (head -c never reads past it) into a variable and hands it to kubectl through a pipe (process substitution), so
// the manifest stays kubectl's stdin and the credential still never touches the host's disk or a command line.
const SPLIT_STDIN = 'k=$(head -c "$1"); shift; exec kubectl --kubeconfig=<(printf \'%s\\n\' "$k") "$@"';

/** kubectl through a master with the stored admin kubeconfig on stdin; shared by every module that talks to the
 * cluster (this one, node-drain.ts, addons.ts). `allowNonZero` hands back a failed run for the caller to read. */
export function createKubectl(deps: ActivityDeps, opts: KubeApiOptions = {}) {
  const pathFor = (cluster: string): string => adminKubeconfigPath(cluster, opts);
  async function run(
    { via, cluster, args, timeoutSeconds = 120, input }: KubectlInput,
    allowNonZero = false,
  ): Promise<RunResult> {
    let kubeconfig: Buffer;
    try {
      kubeconfig = await readFile(pathFor(cluster));
    } catch {
      throw new InvalidInputError(
        `no admin kubeconfig for ${cluster} in the local store (${pathFor(cluster)}): fetch it first`,
      );
    }
    const how = { action: `kubectl ${args.slice(0, 3).join(' ')}`, timeoutMs: timeoutSeconds * 1000, allowNonZero };
    if (input === undefined)
      return deps.session(via).run(['kubectl', '--kubeconfig=/dev/stdin', ...args], { ...how, stdin: kubeconfig });
    return deps.session(via).run(['bash', '-c', SPLIT_STDIN, 'kubectl', String(kubeconfig.length), ...args], {
      ...how,
      stdin: Buffer.concat([kubeconfig, Buffer.from(input)]),
    });
  }
  return { pathFor, run, kubectl: async (input: KubectlInput): Promise<string> => (await run(input)).stdout };
}

export function createKubeApiActivities(deps: ActivityDeps, opts: KubeApiOptions = {}) {
  const { pathFor, kubectl } = createKubectl(deps, opts);

  return {
    /** /etc/kubernetes/admin.conf of `via` into the local store, atomically, 0600. */
    async fetchAdminKubeconfig({
      via,
      cluster,
    }: {
      via: HostContext;
      cluster: string;
    }): Promise<FetchKubeconfigResult> {
      return withFailures(async () => {
        const path = pathFor(cluster);
        const content = await deps.session(via).getFile(ADMIN_CONF, { timeoutMs: 30_000 });
        const sha256 = createHash('sha256').update(content).digest('hex');
        const before = await readFile(path).catch(() => undefined);
        if (before?.equals(content)) return { path, changed: false, sha256 };
        await mkdir(dirname(path), { recursive: true, mode: 0o700 });
        await chmod(dirname(path), 0o700);
        const tmp = await writeTemp(path, content);
        await rename(tmp, path);
        return { path, changed: true, sha256 };
      });
    },

    /** kubectl with the stored admin kubeconfig; returns stdout (ask for nothing secret: it is a result). */
    async runKubectl(input: KubectlInput): Promise<{ stdout: string }> {
      return withFailures(async () => ({ stdout: await kubectl(input) }));
    },

    /** The pod network (flannel from the inventory, or the user's manifest), applied server-side with the stored
     * admin kubeconfig; reports which objects it created or changed, from their resourceVersions before and after. */
    async applyPodNetwork(input: ApplyPodNetworkInput): Promise<ApplyPodNetworkResult> {
      return withFailures(async () => {
        const manifest = await podNetworkManifest(input);
        const manifestSha256 = createHash('sha256').update(manifest).digest('hex');
        await deps.session(input.via).putFile(POD_NETWORK_MANIFEST, manifest, { mode: 0o644, timeoutMs: 30_000 });
        const { via, cluster } = input;
        const file = ['-f', POD_NETWORK_MANIFEST];
        // Before the first apply a manifest's custom resources have no kind yet ("no matches for kind"): then
        // everything counts as changed, which is what the apply does.
        const before = parseVersions(
          await kubectl({ via, cluster, args: ['get', ...file, '--ignore-not-found', ...OBJECT_VERSIONS] }).catch(
            () => '',
          ),
        );
        await kubectl({
          via,
          cluster,
          args: ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '--force-conflicts', ...file],
          // Within the step's class (hostStep, 2 minutes) with room for the reads around it.
          timeoutSeconds: 90,
        });
        const after = parseVersions(await kubectl({ via, cluster, args: ['get', ...file, ...OBJECT_VERSIONS] }));
        const changed = [...after].filter(([k, v]) => before.get(k) !== v).map(([k]) => k);
        return { objects: after.size, changed, manifestSha256 };
      });
    },

    /** CoreDNS with one replica per master (the seed's "kube-dns to the masters' cardinality"). */
    async scaleCoreDns({
      via,
      cluster,
      replicas,
    }: {
      via: HostContext;
      cluster: string;
      replicas: number;
    }): Promise<{ replicas: number; changed: boolean }> {
      return withFailures(async () => {
        const now = Number(
          (
            await kubectl({
              via,
              cluster,
              args: ['-n', 'kube-system', 'get', 'deployment', 'coredns', '-o', 'jsonpath={.spec.replicas}'],
            })
          ).trim(),
        );
        if (now === replicas) return { replicas, changed: false };
        await kubectl({
          via,
          cluster,
          args: ['-n', 'kube-system', 'scale', 'deployment', 'coredns', `--replicas=${replicas}`],
        });
        return { replicas, changed: true };
      });
    },

    async waitNodesReady({
      via,
      cluster,
      nodes,
      timeoutSeconds,
      intervalMs = 500,
    }: WaitNodesReadyInput): Promise<NodesReadyResult> {
      return withFailures(async () => {
        const t0 = deps.now();
        for (;;) {
          const out = await kubectl({
            via,
            cluster,
            args: [
              'get',
              'nodes',
              '-o',
              'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
            ],
          });
          const ready = new Set(
            out
              .split('\n')
              .filter((l) => l.endsWith(' True'))
              .map((l) => l.split(' ')[0]),
          );
          const notReady = nodes.filter((n) => !ready.has(n));
          const elapsedMs = deps.now() - t0;
          if (notReady.length === 0) return { ready: nodes, notReady, elapsedMs };
          if (elapsedMs > timeoutSeconds * 1000)
            throw new KubeadmHaError(
              `nodes not Ready after ${timeoutSeconds} s: ${notReady.join(', ')}`,
              FailureType.CommandFailed,
            );
          heartbeat({ notReady });
          await pause(intervalMs);
        }
      });
    },
  };
}
