// The API servers' view of the external etcd cluster after its members changed (`setup` rerun on a cluster whose etcd
// group grew or shrank): kubeadm's ClusterConfiguration in the kubeadm-config ConfigMap (what the next `kubeadm join
// --control-plane` and `kubeadm upgrade` render --etcd-servers from), then each master's kube-apiserver static pod.
//
// The manifest's --etcd-servers flag is edited in place rather than the manifest regenerated with `kubeadm init phase
// control-plane apiserver --config`: kubeadm renders that flag as the ClusterConfiguration's endpoints joined by
// commas, so the edit writes exactly what kubeadm would, and nothing else in the manifest moves. Regenerating would
// need each master's own InitConfiguration (advertise address, patches) rebuilt, and the kubeadm on the host may not
// be the control plane's version (mid-upgrade): it could change more than the one flag. kubeadm's later upgrades stay
// right because they render the manifest from the ConfigMap, which is updated first.
import { parseDocument } from 'yaml';
import { FailureType, KubeadmHaError } from '../errors.js';
import type { HostContext } from '../plan/types.js';
import { heartbeat, pause } from './activity-context.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { KUBEADM2HA_DIR } from './kubeadm.js';
import { createKubectl, type KubeApiOptions } from './kube-api.js';

export const APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml';
/** The manifest as it was before the last change of its etcd servers: outside the manifests dir, which the kubelet
 * runs every file of. */
export const APISERVER_MANIFEST_BEFORE = `${KUBEADM2HA_DIR}/kube-apiserver.yaml.before-etcd-servers`;
const APISERVER_PORT = 6443;

const FLAG = /^(\s*- --etcd-servers=)(.*)$/m;

/** The manifest with --etcd-servers set to `endpoints` (in that order), or undefined when it has no such flag. */
export function withEtcdServers(manifest: string, endpoints: string[]): string | undefined {
  if (!FLAG.test(manifest)) return undefined;
  return manifest.replace(FLAG, (_, head: string) => `${head}${endpoints.join(',')}`);
}

/** The ClusterConfiguration text with etcd.external.endpoints set; undefined when it has no external etcd. */
export function withExternalEndpoints(clusterConfiguration: string, endpoints: string[]): string | undefined {
  const doc = parseDocument(clusterConfiguration);
  if (!doc.hasIn(['etcd', 'external'])) return undefined;
  doc.setIn(['etcd', 'external', 'endpoints'], doc.createNode(endpoints));
  // Sequences not indented under their key, as kubeadm (Go's yaml) writes them.
  return doc.toString({ indentSeq: false });
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join(',') === [...b].sort().join(',');

/**
 * Does a container command (kubectl's jsonpath print of it, a JSON array) run with these etcd servers? Compared as
 * a set, as updateApiserverEtcdServers counts a manifest done: a flag in another order is no reason to wait.
 */
export function runsWithEtcdServers(command: string, endpoints: readonly string[]): boolean {
  let argv: unknown;
  try {
    argv = JSON.parse(command);
  } catch {
    return false;
  }
  if (!Array.isArray(argv)) return false;
  const flag = argv.find((a): a is string => typeof a === 'string' && a.startsWith('--etcd-servers='));
  return flag !== undefined && sameSet(flag.slice('--etcd-servers='.length).split(',').filter(Boolean), endpoints);
}

export interface EtcdEndpointsInput {
  via: HostContext;
  cluster: string;
  /** Every etcd member's client URL, in inventory order. */
  endpoints: string[];
}

export interface EtcdEndpointsResult {
  changed: boolean;
  before: string[];
}

export interface ApiserverEtcdServersInput {
  host: HostContext;
  endpoints: string[];
}

export interface ApiserverEtcdServersResult {
  host: string;
  changed: boolean;
  before: string[];
}

export interface WaitApiserverReadyInput {
  host: HostContext;
  /** The master kubectl runs on, with the stored admin kubeconfig (through the cluster's endpoint: the VIP). */
  via: HostContext;
  cluster: string;
  /** The --etcd-servers the running kube-apiserver must have. */
  endpoints: string[];
  timeoutSeconds: number;
  intervalMs?: number;
}

export interface ApiserverReady {
  host: string;
  probes: number;
  elapsedMs: number;
}

export function createApiserverEtcdActivities(deps: ActivityDeps, opts: KubeApiOptions = {}) {
  const { kubectl, run } = createKubectl(deps, opts);
  return {
    /** kubeadm-config's ClusterConfiguration with these etcd endpoints (a replace at the resourceVersion read, so a
     * concurrent change of the ConfigMap fails this step instead of being overwritten). */
    async updateKubeadmEtcdEndpoints({ via, cluster, endpoints }: EtcdEndpointsInput): Promise<EtcdEndpointsResult> {
      return withFailures(async () => {
        const cm = JSON.parse(
          await kubectl({
            via,
            cluster,
            args: ['-n', 'kube-system', 'get', 'configmap', 'kubeadm-config', '-o', 'json'],
          }),
        ) as { data?: Record<string, string> };
        const text = cm.data?.ClusterConfiguration ?? '';
        const current: unknown = parseDocument(text).getIn(['etcd', 'external', 'endpoints']);
        const json = (current as { toJSON?: () => unknown } | undefined)?.toJSON?.();
        const list = Array.isArray(json) ? json.filter((e): e is string => typeof e === 'string') : [];
        if (sameSet(list, endpoints)) return { changed: false, before: list };
        const updated = withExternalEndpoints(text, endpoints);
        if (updated === undefined)
          throw new KubeadmHaError(
            'kubeadm-config has no external etcd: the cluster was not set up with external etcd',
            FailureType.InvalidInput,
            via.target.name,
          );
        await run({
          via,
          cluster,
          args: ['replace', '-f', '-'],
          input: JSON.stringify({ ...cm, data: { ...cm.data, ClusterConfiguration: updated } }),
        });
        return { changed: true, before: list };
      });
    },

    /** This master's kube-apiserver manifest with --etcd-servers = endpoints; the previous manifest is kept beside
     * kubeadm2ha's other files. The kubelet then restarts the API server (waitApiserverReady waits for it). */
    async updateApiserverEtcdServers({
      host,
      endpoints,
    }: ApiserverEtcdServersInput): Promise<ApiserverEtcdServersResult> {
      return withFailures(async () => {
        const session = deps.session(host);
        const manifest = (await session.getFile(APISERVER_MANIFEST, { timeoutMs: 30_000 })).toString('utf8');
        const before = (FLAG.exec(manifest)?.[2] ?? '').split(',').filter(Boolean);
        const updated = withEtcdServers(manifest, endpoints);
        if (updated === undefined)
          throw new KubeadmHaError(
            `${APISERVER_MANIFEST} has no --etcd-servers flag`,
            FailureType.HostNotSuitable,
            host.target.name,
          );
        if (sameSet(before, endpoints)) return { host: host.target.name, changed: false, before };
        await session.putFile(APISERVER_MANIFEST_BEFORE, manifest, { mode: 0o600, timeoutMs: 30_000 });
        // putFile's temporary file is a dotfile in the same directory: the kubelet skips those.
        await session.putFile(APISERVER_MANIFEST, updated, { mode: 0o600, timeoutMs: 30_000 });
        return { host: host.target.name, changed: true, before };
      });
    },

    /**
     * The master's kube-apiserver runs with these etcd servers and is ready: its mirror pod shows the flag and Ready
     * (the old pod had the old flag, so this is the restarted one), /readyz answers ok on the master's own address,
     * and through the cluster's endpoint (the VIP: another master serves while this one restarts).
     */
    async waitApiserverReady({
      host,
      via,
      cluster,
      endpoints,
      timeoutSeconds,
      intervalMs = 2_000,
    }: WaitApiserverReadyInput): Promise<ApiserverReady> {
      return withFailures(async () => {
        const t0 = deps.now();
        const node = host.target.name;
        const ask = (args: string[]) =>
          run({ via, cluster, args, timeoutSeconds: 30 }, true).then(
            (r) => (r.code === 0 ? r.stdout : undefined),
            () => undefined,
          );
        for (let probes = 1; ; probes++) {
          let why = '';
          const pod = await ask([
            '-n',
            'kube-system',
            'get',
            'pod',
            `kube-apiserver-${node}`,
            '-o',
            'jsonpath={.spec.containers[0].command}{"\\n"}{.status.conditions[?(@.type=="Ready")].status}',
          ]);
          const [command = '', ready = ''] = (pod ?? '').split('\n');
          if (pod === undefined) why = 'its mirror pod could not be read through the cluster endpoint';
          else if (!runsWithEtcdServers(command, endpoints)) why = 'still runs with the previous --etcd-servers';
          else if (ready.trim() !== 'True') why = 'restarted, not Ready yet';
          else {
            const own = await ask([
              '--server',
              `https://${host.target.address}:${APISERVER_PORT}`,
              'get',
              '--raw',
              '/readyz',
            ]);
            const vip = await ask(['get', '--raw', '/readyz']);
            if (own?.trim() === 'ok' && vip?.trim() === 'ok') return { host: node, probes, elapsedMs: deps.now() - t0 };
            why =
              own?.trim() !== 'ok' ? '/readyz on its own address is not ok' : '/readyz through the endpoint is not ok';
          }
          if (deps.now() - t0 > timeoutSeconds * 1000)
            throw new KubeadmHaError(
              `kube-apiserver not ready with the new etcd servers after ${timeoutSeconds} s: ${why}`,
              FailureType.CommandFailed,
              node,
            );
          heartbeat({ probes, why });
          await pause(intervalMs);
        }
      });
    },
  };
}
