// Talking to the cluster once it runs. The admin kubeconfig is fetched from the primary into the local store
// (stateDir/clusters/<cluster>/admin.conf, 0600; it holds the cluster-admin key, so never into history), and every
// kubectl call runs on a master with THAT kubeconfig handed over on stdin (`--kubeconfig=/dev/stdin`): the calls go
// through the cluster's endpoint (VIP or load balancer) like a user's, and no credential is left on the host.
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FailureType, InvalidInputError, KubeadmHaError } from '../errors.js';
import { stateDir } from '../paths.js';
import type { HostContext } from '../plan/types.js';
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

const clusterName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function createKubeApiActivities(deps: ActivityDeps, opts: KubeApiOptions = {}) {
  const pathFor = (cluster: string): string => {
    if (!clusterName.test(cluster)) throw new InvalidInputError(`invalid cluster name ${cluster}`);
    return opts.kubeconfigPath?.(cluster) ?? stateDir('clusters', cluster, 'admin.conf');
  };

  async function kubectl({ via, cluster, args, timeoutSeconds = 120 }: KubectlInput): Promise<string> {
    let kubeconfig: Buffer;
    try {
      kubeconfig = await readFile(pathFor(cluster));
    } catch {
      throw new InvalidInputError(
        `no admin kubeconfig for ${cluster} in the local store (${pathFor(cluster)}): fetch it first`,
      );
    }
    const r = await deps.session(via).run(['kubectl', '--kubeconfig=/dev/stdin', ...args], {
      stdin: kubeconfig,
      action: `kubectl ${args.slice(0, 3).join(' ')}`,
      timeoutMs: timeoutSeconds * 1000,
    });
    return r.stdout;
  }

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
