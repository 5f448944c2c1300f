// What a setup would find on the hosts, read-only: per host the OS preparation, kube packages (versions, holds),
// containerd, keepalived and the load balancer (each: its files as the setup would write them, and running), the
// kubelet, whether the node joined and runs a control plane, the external etcd member; and through the primary's
// own admin.conf the cluster's view (API answering, nodes Ready, CoreDNS replicas, the pod network applied). One
// SSH round trip per host. The setup planner (src/plan/setup.ts) plans from this only what is missing, so a rerun
// of a finished setup is an empty runbook and `setup --dry-run` shows exactly the missing steps.
//
// Facts are plain data for history: versions, booleans, names; file contents are compared here (rendered with the
// same templates the configuring activities use) and never returned, so no file content (a VRRP password, a
// kubeconfig) leaves the host.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { PodNetworkSource } from '../plan/pod-network.js';
import type { HostContext } from '../plan/types.js';
import { apiserverEtcdClient, etcdCa, etcdHealthcheckClient } from '../pki/layout.js';
import { quote } from '../ssh/index.js';
import { redact } from '../ssh/redact.js';
import {
  CONTAINERD_CONFIG,
  hostsTomlPath,
  renderContainerdConfig,
  renderHostsToml,
  type ContainerdSettings,
  type RegistryHosts,
} from '../templates/containerd.js';
import {
  KEEPALIVED_CHECK_SCRIPT,
  KEEPALIVED_CONF,
  renderApiserverCheck,
  renderKeepalivedConf,
  type KeepalivedSettings,
} from '../templates/keepalived.js';
import {
  HAPROXY_CFG,
  NGINX_CONF,
  renderHaproxyCfg,
  renderNginxConf,
  type LoadBalancerSettings,
} from '../templates/load-balancer.js';
import { NGINX_LB_SERVICE } from './apiserver-vip.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { restartMarkers } from './host-config.js';
import {
  ADMIN_CONF,
  adminKubeconfigPath,
  POD_NETWORK_MANIFEST,
  podNetworkManifest,
  type KubeApiOptions,
} from './kube-api.js';
import { parseProbe } from './kube-packages.js';
import { MODULES_FILE, SYSCTL_FILE, modulesText, sysctlText } from './node-os.js';
import { statusScript } from './services/supervisor.js';
import { parse as parseYaml } from 'yaml';
import { parseMemberList, type EtcdMember } from './etcdctl.js';

const APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml';
const KUBELET_CONF = '/etc/kubernetes/kubelet.conf';
const CNI_DIRS = ['/opt/cni/bin', '/usr/lib/cni'];
const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/** One host as the setup would configure it: the same settings its steps get. */
export interface SetupFactsHost {
  host: HostContext;
  /** Kubernetes nodes: containerd as configureContainerd gets it (absent on an etcd-only host). */
  containerd?: { settings: Omit<ContainerdSettings, 'cniBinDir'>; registries: RegistryHosts[] };
  /** Masters: keepalived and (unless kind none) the load balancer. */
  keepalived?: KeepalivedSettings;
  loadBalancer?: { kind: 'haproxy' | 'nginx'; settings: LoadBalancerSettings };
  /** An external etcd member: its client URL (health asked there with the healthcheck client certificate). */
  etcdMember?: { clientUrl: string };
  /** A master with external etcd: the apiserver's etcd client certificate. */
  etcdClient?: boolean;
}

export interface ReadSetupFactsInput {
  cluster: string;
  hosts: SetupFactsHost[];
  /** Name of the primary master (one of hosts): the cluster's view is read there. Absent: no cluster view (`etcd
   * setup` reads its hosts' etcd facts only). */
  primary?: string;
  /** The pod network the setup applies (none: no pod network fact). */
  network?: PodNetworkSource;
}

export interface EtcdMemberFacts {
  /** `etcd --version` of the etcd on the PATH (absent: none). */
  version?: string;
  etcdctl: boolean;
  /** The data dir holds a member. */
  member: boolean;
  running: boolean;
  /** `etcdctl endpoint health` on its own client URL answered healthy. */
  healthy: boolean;
  /** A healthy member: the cluster's members as `member list` asked there reports them (scale-in compares them with
   * the inventory's). */
  members?: EtcdMember[];
}

export interface HostSetupFacts {
  name: string;
  /** Why the host could not be read; then every other field says "not done". */
  unreachable?: string;
  /** The modules and sysctl files as prepareNodeOs writes them, no active swap line in /etc/fstab. */
  osPrepared: boolean;
  /** Debian versions of kubeadm, kubelet, kubectl installed (absent: not installed). */
  packages: Record<string, string>;
  held: string[];
  /** config.toml and every hosts.toml as configureContainerd renders them for this host, and containerd running. */
  containerd: boolean;
  /** containerd's CNI plugin directory on this host (nodes only: the pod network installs its plugin there). */
  cniBinDir?: string;
  /** Masters: keepalived.conf and its check script as planned, keepalived running. */
  keepalived?: boolean;
  /** Masters with a load balancer: its config as planned, running. */
  loadBalancer?: boolean;
  /** The kubelet unit is active (systemd hosts; absent where that cannot be asked). */
  kubelet?: boolean;
  /** /etc/kubernetes/kubelet.conf exists: kubeadm init or join ran. */
  joined: boolean;
  /** The kube-apiserver static pod manifest exists: a control-plane node. */
  controlPlane: boolean;
  /** /etc/kubernetes/admin.conf exists (kubeadm init's, on the primary). */
  adminConf: boolean;
  etcd?: EtcdMemberFacts;
  /** apiserver-etcd-client certificate and the etcd CA present (masters with external etcd). */
  etcdClientCert?: boolean;
  /** Masters with external etcd whose kube-apiserver manifest exists: its --etcd-servers, as written there. */
  etcdServers?: string[];
}

export interface ClusterSetupFacts {
  /** The API answered /readyz through the primary's admin.conf. */
  answering: boolean;
  /** Why not (the last line of kubectl's error), when it did not. */
  error?: string;
  nodes: { name: string; ready: boolean }[];
  coreDnsReplicas?: number;
  /** The pod network manifest on the primary is the one the setup would apply, and its objects exist. */
  podNetwork?: boolean;
  /** kubeadm's ClusterConfiguration (ConfigMap kube-system/kubeadm-config): etcd.external.endpoints, when it has
   * them. kubeadm renders the next join's and upgrade's --etcd-servers from these. */
  etcdEndpoints?: string[];
}

export interface SetupFacts {
  hosts: HostSetupFacts[];
  /** Absent when the primary has no admin.conf (no kubeadm init yet) or could not be read. */
  cluster?: ClusterSetupFacts;
  /** The local store's admin kubeconfig is the primary's admin.conf (byte for byte). */
  adminKubeconfigStored: boolean;
  /** How long reading took (all hosts in parallel). */
  durationMs: number;
}

/** Daemons whose config putCheckedFile writes: one still owed the restart a cut run left (host-config.ts) runs an
 * old config, so its step is not done although file and daemon look right. */
const OWED_SERVICES = ['containerd', 'keepalived', 'haproxy', NGINX_LB_SERVICE];
/** Prints "owed <service>" for each of them that any of its markers says is owed a restart. */
const owedScript = OWED_SERVICES.map((s) => {
  const test = restartMarkers(s)
    .map((m) => `[ -e ${quote(m)} ]`)
    .join(' || ');
  return `if ${test}; then echo ${quote(`owed ${s}`)}; fi`;
}).join('\n');

// $1: supervisor status script; $2: etcd client URL or empty; $3: 1 on the primary; the rest: files to hash.
// Prints "sha <hex> <path>" per existing file and "<key> <value>" lines; every value is a fact, never a content.
const hostScript = `sup=$1; etcd_url=$2; primary=$3; shift 3
for f in "$@"; do [ -f "$f" ] && echo "sha $(sha256sum < "$f" | cut -d' ' -f1) $f"; done
dpkg-query -W -f '\${Package} \${Version} \${db:Status-Abbrev}\\n' kubeadm kubelet kubectl 2>/dev/null || true
echo "held $(apt-mark showhold kubeadm kubelet kubectl 2>/dev/null | tr '\\n' ' ')"
for d in ${CNI_DIRS.map(quote).join(' ')}; do [ -x "$d/bridge" ] && { echo "cni $d"; break; }; done
[ -f ${quote(NGINX_STREAM_MODULE)} ] && echo "nginx-stream yes"
awk '$0 !~ /^[[:space:]]*#/ && $3 == "swap" { found=1 } END { exit !found }' /etc/fstab 2>/dev/null && echo "fstab-swap yes"
active() {
  if [ -d /run/systemd/system ]; then
    case "$(systemctl is-active "$1" 2>/dev/null)" in active|activating|reloading) echo "active $1" ;; esac
  elif sh -c "$sup" k2h-supervise "$1" 2>/dev/null | grep -qx active; then echo "active $1"; fi
}
for s in containerd keepalived haproxy ${NGINX_LB_SERVICE} etcd; do active "$s"; done
${owedScript}
if command -v systemctl >/dev/null 2>&1; then
  k=$(systemctl is-active kubelet 2>/dev/null); echo "kubelet-unit \${k:-unknown}"
fi
for f in ${[KUBELET_CONF, APISERVER_MANIFEST, ADMIN_CONF, apiserverEtcdClient.certPath, etcdCa.certPath].map(quote).join(' ')}; do
  [ -f "$f" ] && echo "exists $f"
done
[ -f ${quote(APISERVER_MANIFEST)} ] && sed -n 's/^[[:space:]]*- --etcd-servers=/etcd-servers /p' ${quote(APISERVER_MANIFEST)}
b=$(command -v etcd || true)
if [ -n "$b" ]; then echo "etcd-version $("$b" --version 2>/dev/null | sed -n 's/^etcd Version: //p')"; fi
command -v etcdctl >/dev/null 2>&1 && echo "etcdctl yes"
[ -d /var/lib/etcd/member ] && echo "etcd-member yes"
if [ -n "$etcd_url" ] && command -v etcdctl >/dev/null 2>&1; then
  ETCDCTL_API=3 etcdctl --endpoints="$etcd_url" --cacert=${quote(etcdCa.certPath)} \\
    --cert=${quote(etcdHealthcheckClient.certPath)} --key=${quote(etcdHealthcheckClient.keyPath)} \\
    --dial-timeout=3s --command-timeout=5s endpoint health >/dev/null 2>&1 && echo "etcd-healthy yes" &&
  echo "etcd-members $(ETCDCTL_API=3 etcdctl --endpoints="$etcd_url" --cacert=${quote(etcdCa.certPath)} \
    --cert=${quote(etcdHealthcheckClient.certPath)} --key=${quote(etcdHealthcheckClient.keyPath)} \
    --dial-timeout=3s --command-timeout=5s -w json member list 2>/dev/null | base64 -w0)"
fi
if [ "$primary" = 1 ] && [ -f ${quote(ADMIN_CONF)} ]; then
  K="kubectl --kubeconfig ${ADMIN_CONF} --request-timeout=10s"
  if out=$($K get --raw /readyz 2>&1); then
    echo "api ok"
    $K get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}' 2>/dev/null | sed 's/^/node /'
    echo "coredns $($K -n kube-system get deployment coredns -o jsonpath='{.spec.replicas}' 2>/dev/null)"
    echo "kubeadm-config $($K -n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}' 2>/dev/null | base64 -w0)"
    [ -f ${quote(POD_NETWORK_MANIFEST)} ] && $K get -f ${quote(POD_NETWORK_MANIFEST)} -o name >/dev/null 2>&1 && echo "pod-network yes"
  else echo "api-error $(printf '%s' "$out" | tail -n1)"; fi
fi
`;

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

interface Parsed {
  shas: Map<string, string>;
  words: Map<string, string[]>;
  text: string;
}

function parse(text: string): Parsed {
  const shas = new Map<string, string>();
  const words = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp < 0) continue;
    const key = line.slice(0, sp);
    const rest = line.slice(sp + 1).trim();
    if (key === 'sha') {
      const [hex, path] = [rest.slice(0, rest.indexOf(' ')), rest.slice(rest.indexOf(' ') + 1)];
      shas.set(path, hex);
    } else words.set(key, [...(words.get(key) ?? []), rest]);
  }
  return { shas, words, text };
}

const one = (p: Parsed, key: string): string | undefined => p.words.get(key)?.[0];
const has = (p: Parsed, key: string, value: string): boolean => (p.words.get(key) ?? []).includes(value);

/** The files a host's facts hash: everything the setup would write and compare. */
function filesOf(h: SetupFactsHost): string[] {
  return [
    MODULES_FILE,
    SYSCTL_FILE,
    CONTAINERD_CONFIG,
    ...(h.containerd?.registries ?? []).map((r) => hostsTomlPath(r.host)),
    ...(h.keepalived ? [KEEPALIVED_CONF, KEEPALIVED_CHECK_SCRIPT] : []),
    ...(h.loadBalancer ? [h.loadBalancer.kind === 'haproxy' ? HAPROXY_CFG : NGINX_CONF] : []),
    ADMIN_CONF,
    POD_NETWORK_MANIFEST,
  ];
}

/** A host's facts from its script output (pure: unit-tested with recorded output). */
export function hostFactsOf(h: SetupFactsHost, text: string): HostSetupFacts {
  const p = parse(text);
  const same = (path: string, content: string) => p.shas.get(path) === sha(content);
  const probe = parseProbe(text);
  const cniBinDir = one(p, 'cni') ?? CNI_DIRS[0]!;
  const ctr = h.containerd;
  const containerdFiles =
    ctr !== undefined &&
    same(CONTAINERD_CONFIG, renderContainerdConfig({ ...ctr.settings, cniBinDir })) &&
    ctr.registries.every((r) => same(hostsTomlPath(r.host), renderHostsToml(r)));
  const exists = (path: string) => has(p, 'exists', path);
  /** Running, and not owed a restart (its config written by a run cut before it restarted the daemon). */
  const up = (service: string) => has(p, 'active', service) && !has(p, 'owed', service);
  let loadBalancer: boolean | undefined;
  if (h.loadBalancer) {
    const lb = h.loadBalancer;
    loadBalancer =
      lb.kind === 'haproxy'
        ? same(HAPROXY_CFG, renderHaproxyCfg(lb.settings)) && up('haproxy')
        : same(
            NGINX_CONF,
            renderNginxConf({
              ...lb.settings,
              pidFile: `/run/${NGINX_LB_SERVICE}-nginx.pid`,
              ...(one(p, 'nginx-stream') && { streamModule: NGINX_STREAM_MODULE }),
            }),
          ) && up(NGINX_LB_SERVICE);
  }
  const kubelet = one(p, 'kubelet-unit');
  const etcdVersion = one(p, 'etcd-version');
  const memberList = one(p, 'etcd-members');
  const members = memberList ? parseMemberList(Buffer.from(memberList, 'base64').toString('utf8')) : undefined;
  return {
    name: h.host.target.name,
    osPrepared: same(MODULES_FILE, modulesText) && same(SYSCTL_FILE, sysctlText) && !one(p, 'fstab-swap'),
    packages: Object.fromEntries(probe.versions),
    held: [...probe.held].sort(),
    containerd: containerdFiles && up('containerd'),
    ...(ctr && { cniBinDir }),
    ...(h.keepalived && {
      keepalived:
        same(KEEPALIVED_CONF, renderKeepalivedConf(h.keepalived)) &&
        same(KEEPALIVED_CHECK_SCRIPT, renderApiserverCheck(h.keepalived.apiserverPort)) &&
        up('keepalived'),
    }),
    ...(loadBalancer !== undefined && { loadBalancer }),
    ...(kubelet && kubelet !== 'unknown' && { kubelet: ['active', 'activating', 'reloading'].includes(kubelet) }),
    joined: exists(KUBELET_CONF),
    controlPlane: exists(APISERVER_MANIFEST),
    adminConf: exists(ADMIN_CONF),
    ...(h.etcdMember && {
      etcd: {
        ...(etcdVersion && { version: etcdVersion }),
        etcdctl: Boolean(one(p, 'etcdctl')),
        member: Boolean(one(p, 'etcd-member')),
        running: has(p, 'active', 'etcd'),
        healthy: Boolean(one(p, 'etcd-healthy')),
        ...(members && { members: members.members }),
      },
    }),
    ...(h.etcdClient && { etcdClientCert: exists(apiserverEtcdClient.certPath) && exists(etcdCa.certPath) }),
    ...(h.etcdClient && one(p, 'etcd-servers') !== undefined && { etcdServers: urlList(one(p, 'etcd-servers')!) }),
  };
}

const urlList = (s: string): string[] =>
  s
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);

/** etcd.external.endpoints of a ClusterConfiguration's text (undefined: not external, or not readable). */
export function externalEtcdEndpoints(clusterConfiguration: string): string[] | undefined {
  let doc: unknown;
  try {
    doc = parseYaml(clusterConfiguration);
  } catch {
    return undefined;
  }
  const endpoints = (doc as { etcd?: { external?: { endpoints?: unknown } } } | null)?.etcd?.external?.endpoints;
  return Array.isArray(endpoints) ? endpoints.filter((e): e is string => typeof e === 'string') : undefined;
}

/** The primary's view of the cluster from its script output; undefined when it has no admin.conf. */
export function clusterFactsOf(text: string): Omit<ClusterSetupFacts, 'podNetwork'> & { podNetworkObjects: boolean } {
  const p = parse(text);
  const error = one(p, 'api-error');
  const replicas = Number(one(p, 'coredns'));
  const kubeadmConfig = one(p, 'kubeadm-config');
  const etcdEndpoints = kubeadmConfig
    ? externalEtcdEndpoints(Buffer.from(kubeadmConfig, 'base64').toString('utf8'))
    : undefined;
  return {
    answering: has(p, 'api', 'ok'),
    ...(error !== undefined && { error: redact(error) || 'the API did not answer' }),
    nodes: (p.words.get('node') ?? []).flatMap((l) => {
      const [name, ready] = l.split(/\s+/);
      return name ? [{ name, ready: ready === 'True' }] : [];
    }),
    ...(one(p, 'coredns') && Number.isInteger(replicas) && { coreDnsReplicas: replicas }),
    podNetworkObjects: Boolean(one(p, 'pod-network')),
    ...(etcdEndpoints && { etcdEndpoints }),
  };
}

/** Facts of a host that could not be read: nothing is known to be done. */
export function unreachableFacts(h: SetupFactsHost, why: string): HostSetupFacts {
  return {
    name: h.host.target.name,
    unreachable: redact(why).split('\n')[0] ?? 'unreachable',
    osPrepared: false,
    packages: {},
    held: [],
    containerd: false,
    ...(h.keepalived && { keepalived: false }),
    ...(h.loadBalancer && { loadBalancer: false }),
    joined: false,
    controlPlane: false,
    adminConf: false,
    ...(h.etcdMember && { etcd: { etcdctl: false, member: false, running: false, healthy: false } }),
    ...(h.etcdClient && { etcdClientCert: false }),
  };
}

export function createSetupFactsActivities(deps: ActivityDeps, opts: KubeApiOptions = {}) {
  return {
    /** Every host's setup facts and the cluster's, read-only, one SSH round trip per host, all in parallel. */
    async readSetupFacts(input: ReadSetupFactsInput): Promise<SetupFacts> {
      return withFailures(async () => {
        const t0 = deps.now();
        const outputs = await Promise.all(
          input.hosts.map(async (h) => {
            const isPrimary = h.host.target.name === input.primary;
            try {
              const r = await deps
                .session(h.host)
                .run(
                  [
                    'sh',
                    '-c',
                    hostScript,
                    'sh',
                    statusScript,
                    h.etcdMember?.clientUrl ?? '',
                    isPrimary ? '1' : '0',
                    ...filesOf(h),
                  ],
                  { action: 'read the setup facts', timeoutMs: 60_000, allowNonZero: true },
                );
              return { facts: hostFactsOf(h, r.stdout), text: r.stdout };
            } catch (e) {
              return { facts: unreachableFacts(h, (e as Error).message), text: '' };
            }
          }),
        );
        const hosts = outputs.map((o) => o.facts);
        const at = input.hosts.findIndex((h) => h.host.target.name === input.primary);
        const primary = at < 0 ? undefined : outputs[at];
        let cluster: ClusterSetupFacts | undefined;
        let adminKubeconfigStored = false;
        if (primary && primary.facts.adminConf) {
          const { podNetworkObjects, ...view } = clusterFactsOf(primary.text);
          const shas = parse(primary.text).shas;
          let podNetwork: boolean | undefined;
          if (input.network) {
            const dirs = Object.fromEntries(hosts.flatMap((f) => (f.cniBinDir ? [[f.name, f.cniBinDir]] : [])));
            const wanted = await podNetworkManifest({
              via: input.hosts[at]!.host,
              cluster: input.cluster,
              network: input.network,
              cniBinDirs: dirs,
            }).catch(() => undefined);
            podNetwork = podNetworkObjects && wanted !== undefined && shas.get(POD_NETWORK_MANIFEST) === sha(wanted);
          }
          cluster = { ...view, ...(podNetwork !== undefined && { podNetwork }) };
          const stored = await readFile(adminKubeconfigPath(input.cluster, opts)).catch(() => undefined);
          adminKubeconfigStored = stored !== undefined && shas.get(ADMIN_CONF) === sha(stored);
        }
        return {
          hosts,
          ...(cluster && { cluster }),
          adminKubeconfigStored,
          durationMs: deps.now() - t0,
        };
      });
    },
  };
}
