// Cross-field rules: what zod cannot see field by field (one primary master, odd etcd count, VIP in the masters'
// subnet…). Each rule is a named pure function over a RuleView and returns findings with a schema path; the
// loader turns paths into file:line:column. Rules also run when the schema failed, on whatever parts did parse,
// so a user sees every problem at once — but rules that count hosts wait until every host parsed, because a
// broken host would make their verdict wrong.
import type { Inventory } from './schema.js';
import { Cluster, Host, LoggingSettings, SshSettings } from './schema.js';
import type { Path } from './locate.js';
import { valueAt } from './issues.js';
import { networkRules } from './rules-network.js';

export interface RuleFinding {
  severity: 'error' | 'warning';
  path: Path;
  message: string;
  /** Point at the key rather than the value (e.g. a key that should not be there). */
  at?: 'key' | 'value';
  /** Another place the finding is about (the first of two duplicates); the loader appends its location. */
  see?: Path;
}

export interface RuleView {
  hosts: { index: number; host: Host }[];
  /** False when some host failed the schema: counting rules then stay quiet. */
  allHosts: boolean;
  cluster: Partial<Cluster>;
  ssh: Partial<SshSettings>;
  /** The object as written, to tell a value the user set from a schema default. */
  raw: unknown;
}

export type Rule = (v: RuleView) => RuleFinding[];

/** Parse each field on its own so one bad field does not hide the others from the rules. */
function parseFields<T extends Record<string, unknown>>(
  shape: Record<string, { safeParse(x: unknown): { success: boolean; data?: unknown } }>,
  raw: unknown,
): Partial<T> {
  const src = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(shape)) {
    const r = s.safeParse(src[k]);
    if (r.success) out[k] = r.data;
  }
  return out as Partial<T>;
}

export function ruleView(raw: unknown, parsed?: Inventory): RuleView {
  if (parsed)
    return {
      hosts: parsed.hosts.map((host, index) => ({ index, host })),
      allHosts: true,
      cluster: parsed.cluster,
      ssh: parsed.ssh,
      raw,
    };
  const obj = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const rawHosts = Array.isArray(obj.hosts) ? (obj.hosts as unknown[]) : [];
  const hosts: RuleView['hosts'] = [];
  rawHosts.forEach((h, index) => {
    const r = Host.safeParse(h);
    if (r.success) hosts.push({ index, host: r.data });
  });
  return {
    hosts,
    allHosts: hosts.length === rawHosts.length && rawHosts.length > 0,
    cluster: parseFields<Cluster>(Cluster.shape, obj.cluster),
    ssh: parseFields<SshSettings>(SshSettings.shape, obj.ssh),
    raw,
  };
}

const isMaster = (h: Host): boolean => h.roles.includes('primary-master') || h.roles.includes('secondary-master');
const roleIndex = (h: Host, role: Host['roles'][number]): number => h.roles.indexOf(role);
const err = (path: Path, message: string, extra: Partial<RuleFinding> = {}): RuleFinding => ({
  severity: 'error',
  path,
  message,
  ...extra,
});
const warn = (path: Path, message: string): RuleFinding => ({ severity: 'warning', path, message });

/** The name cluster-wide (once-phase) steps go under: src/plan/runbook.ts's ONCE (a test holds them equal). */
export const CLUSTER_WIDE = 'cluster';

export const uniqueHosts: Rule = ({ hosts }) => {
  const out: RuleFinding[] = [];
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  for (const { index, host } of hosts) {
    const first = names.get(host.name);
    if (host.name === CLUSTER_WIDE)
      out.push(
        err(
          ['hosts', index, 'name'],
          `host name "${CLUSTER_WIDE}" is reserved: progress, decisions and \`decide --host\` use it for cluster-wide steps`,
        ),
      );
    if (first !== undefined)
      out.push(err(['hosts', index, 'name'], `duplicate host name "${host.name}"`, { see: ['hosts', first, 'name'] }));
    else names.set(host.name, index);
    const addr = host.address.toLowerCase();
    const firstA = addresses.get(addr);
    if (firstA !== undefined)
      out.push(
        err(['hosts', index, 'address'], `duplicate address ${host.address}`, { see: ['hosts', firstA, 'address'] }),
      );
    else addresses.set(addr, index);
  }
  return out;
};

export const hostRoles: Rule = ({ hosts }) => {
  const out: RuleFinding[] = [];
  for (const { index, host } of hosts) {
    const seen = new Set<string>();
    host.roles.forEach((r, k) => {
      if (seen.has(r)) out.push(warn(['hosts', index, 'roles', k], `role "${r}" is listed twice`));
      seen.add(r);
    });
    if (seen.has('primary-master') && seen.has('secondary-master'))
      out.push(
        err(
          ['hosts', index, 'roles', roleIndex(host, 'secondary-master')],
          'a host is either the primary master or a secondary master, not both',
        ),
      );
    // The logging store runs as pods: only on a Kubernetes node, and in one tier.
    const node = isMaster(host) || seen.has('worker');
    for (const tier of ['logs-hot', 'logs-warm'] as const)
      if (seen.has(tier) && !node)
        out.push(
          err(
            ['hosts', index, 'roles', roleIndex(host, tier)],
            `${tier} runs the logging store as pods: the host must also be a Kubernetes node (worker or master)`,
          ),
        );
    if (seen.has('logs-hot') && seen.has('logs-warm'))
      out.push(
        err(
          ['hosts', index, 'roles', roleIndex(host, 'logs-warm')],
          'a host is either a logs-hot or a logs-warm host, not both',
        ),
      );
  }
  return out;
};

/** Warm keeps what hot has dropped: it must keep lines longer than hot does. */
export const loggingRetention: Rule = ({ raw }) => {
  const given = valueAt(raw, ['addons', 'logging']);
  if (given === undefined) return [];
  const r = LoggingSettings.safeParse(given);
  if (!r.success || r.data.warmDays > r.data.hotDays) return [];
  return [
    err(
      ['addons', 'logging', 'warmDays'],
      `warmDays (${r.data.warmDays}) must be more than hotDays (${r.data.hotDays}): warm keeps the days hot has dropped`,
    ),
  ];
};

export const oneControlPlane: Rule = ({ hosts, allHosts }) => {
  if (!allHosts) return [];
  const primaries = hosts.filter(({ host }) => host.roles.includes('primary-master'));
  const masters = hosts.filter(({ host }) => isMaster(host));
  const workers = hosts.filter(({ host }) => host.roles.includes('worker'));
  if (masters.length === 0) {
    const why = workers.length
      ? `there are workers (${workers.map((w) => w.host.name).join(', ')}) but no masters`
      : 'there are no masters';
    return [err(['hosts'], `${why}: exactly one host needs the primary-master role`, { at: 'key' })];
  }
  if (primaries.length === 0)
    return [
      err(
        ['hosts'],
        `no primary master: give exactly one of ${masters.map((m) => m.host.name).join(', ')} the primary-master role`,
        { at: 'key' },
      ),
    ];
  const [first, ...extra] = primaries;
  return extra.map(({ index, host }) =>
    err(
      ['hosts', index, 'roles', roleIndex(host, 'primary-master')],
      `second primary master (${first?.host.name} is already primary); make ${host.name} a secondary-master`,
      {
        see: ['hosts', first?.index ?? 0, 'roles'],
      },
    ),
  );
};

export const etcdMembers: Rule = ({ hosts, allHosts, cluster, raw }) => {
  const mode = cluster.etcd?.mode;
  if (!mode) return [];
  const out: RuleFinding[] = [];
  const etcdRole = hosts.filter(({ host }) => host.roles.includes('etcd'));
  if (mode === 'stacked') {
    for (const { index, host } of etcdRole)
      out.push(
        err(
          ['hosts', index, 'roles', roleIndex(host, 'etcd')],
          'etcd.mode is stacked (kubeadm runs etcd on each master): no host takes the etcd role; remove it or set cluster.etcd.mode: external',
        ),
      );
    if (valueAt(raw, ['cluster', 'etcd', 'version']) !== undefined)
      out.push(
        warn(
          ['cluster', 'etcd', 'version'],
          'ignored with stacked etcd: kubeadm picks the etcd version that matches kubernetesVersion',
        ),
      );
  }
  if (!allHosts) return out;
  const members = mode === 'stacked' ? hosts.filter(({ host }) => isMaster(host)) : etcdRole;
  if (mode === 'external' && members.length === 0)
    out.push(
      err(
        ['cluster', 'etcd', 'mode'],
        'external etcd needs hosts with the etcd role (usually the masters); add it or use mode: stacked',
      ),
    );
  else if (members.length > 0 && members.length % 2 === 0)
    out.push(
      warn(
        mode === 'stacked' ? ['hosts'] : ['hosts', members[members.length - 1]?.index ?? 0, 'roles'],
        `${members.length} etcd members (${members.map((m) => m.host.name).join(', ')}) tolerate no more failures than ${members.length - 1}; use an odd number`,
      ),
    );
  return out;
};

/** Kubernetes 1.28+ speaks etcd's v3 API as of 3.4; the seed's 3.2/3.3 pins would not work. */
export const etcdVersion: Rule = ({ cluster }) => {
  const v = cluster.etcd?.version;
  if (!v || cluster.etcd?.mode !== 'external') return [];
  const [major = 0, minor = 0] = v.split('.').map(Number);
  return major < 3 || (major === 3 && minor < 4)
    ? [err(['cluster', 'etcd', 'version'], `etcd ${v} is too old: Kubernetes 1.28+ needs etcd 3.4 or newer`)]
    : [];
};

const bastionPattern = /^(?:[a-zA-Z0-9._-]+@)?(?:[a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/;

function sshRules(
  path: Path,
  ssh: { bastion?: string | undefined; identityFile?: string | undefined } | undefined,
): RuleFinding[] {
  const out: RuleFinding[] = [];
  if (ssh?.bastion !== undefined) {
    const port = /:(\d+)$/.exec(ssh.bastion)?.[1];
    if (!bastionPattern.test(ssh.bastion))
      out.push(err([...path, 'bastion'], `expected [user@]host[:port]; got ${JSON.stringify(ssh.bastion)}`));
    else if (port !== undefined && (Number(port) < 1 || Number(port) > 65535))
      out.push(err([...path, 'bastion'], `port ${port} is out of range 1-65535`));
  }
  if (ssh?.identityFile?.endsWith('.pub'))
    out.push(
      err(
        [...path, 'identityFile'],
        `${ssh.identityFile} is a public key; identityFile names the private key (without .pub)`,
      ),
    );
  return out;
}

export const sshSettings: Rule = ({ ssh, hosts }) => [
  ...sshRules(['ssh'], ssh),
  ...hosts.flatMap(({ index, host }) => sshRules(['hosts', index, 'ssh'], host.ssh)),
];

// Kubernetes label syntax: optional DNS-subdomain prefix, a name of at most 63 characters, a value of at most 63.
const labelName = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const labelPrefix = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const nodeLabels: Rule = ({ hosts }) =>
  hosts.flatMap(({ index, host }) =>
    Object.entries(host.labels ?? {}).flatMap(([k, v]) => {
      const slash = k.lastIndexOf('/');
      const [prefix, name] = slash >= 0 ? [k.slice(0, slash), k.slice(slash + 1)] : [undefined, k];
      const out: RuleFinding[] = [];
      if (!labelName.test(name) || (prefix !== undefined && !labelPrefix.test(prefix)))
        out.push(err(['hosts', index, 'labels', k], `"${k}" is not a valid Kubernetes label key`, { at: 'key' }));
      if (v !== '' && !labelName.test(v))
        out.push(
          err(
            ['hosts', index, 'labels', k],
            `"${v}" is not a valid Kubernetes label value (at most 63 of A-Z a-z 0-9 - _ .)`,
          ),
        );
      return out;
    }),
  );

export const imageRepository: Rule = ({ cluster }) =>
  cluster.imageRepository && /^[a-z]+:\/\//i.test(cluster.imageRepository)
    ? [
        err(
          ['cluster', 'imageRepository'],
          `give the repository without a scheme, e.g. ${cluster.imageRepository.replace(/^[a-z]+:\/\//i, '')}`,
        ),
      ]
    : [];

/** A manifest only means something for plugin: manifest, and that plugin needs one. */
export const networkPlugin: Rule = ({ cluster }) => {
  const n = cluster.network;
  if (!n) return [];
  if (n.plugin === 'manifest' && n.manifest === undefined)
    return [err(['cluster', 'network', 'plugin'], 'plugin: manifest needs network.manifest, the file to apply')];
  if (n.plugin !== 'manifest' && n.manifest !== undefined)
    return [
      err(
        ['cluster', 'network', 'manifest'],
        `a manifest is only applied with plugin: manifest (plugin is ${n.plugin}); set plugin: manifest or remove it`,
      ),
    ];
  return [];
};

export const rules: Rule[] = [
  uniqueHosts,
  hostRoles,
  loggingRetention,
  oneControlPlane,
  etcdMembers,
  etcdVersion,
  sshSettings,
  nodeLabels,
  imageRepository,
  networkPlugin,
  ...networkRules,
];

export function checkRules(view: RuleView): RuleFinding[] {
  return rules.flatMap((r) => r(view));
}
