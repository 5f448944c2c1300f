// Seed variables → the plain inventory object our schema checks, with a SourceMap entry for every value so that
// schema and rule errors point at the INI line or group_vars line that set it, named by the variable.
import {
  classify,
  clusterVars,
  connectionVars,
  OVERRIDE_VAR,
  topics,
  truthy,
  type ClusterVar,
  type Topic,
} from './ansible-seed-vars.js';
import { resolveTemplate } from './ansible-template.js';
import type { VarEntry, VarSet } from './ansible-varfiles.js';
import type { InventoryIssue, InventoryWarning } from './errors.js';
import { SourceMap, type Path, type Position, type Site } from './locate.js';
import type { Role } from './schema.js';

export interface SeedHost {
  name: string;
  site: Site;
  roles: { role: Role; site: Site }[];
  vars: VarSet;
}

export interface SeedInput {
  file: string;
  hosts: SeedHost[];
  /** Variables of a host in no group but `all`: where cluster-wide values come from when there are no hosts. */
  allVars: VarSet;
  hostsOf: (group: string) => string[];
  clusterGroup?: { name: string; site: Site };
  /** The first host of an [apiserver_vip] group: the VIP when no variable names it. */
  vipHost?: { address: string; site: Site };
  /** Where "no masters"-style problems about the host list are reported. */
  hostsSite: Site;
  /** Every variable definition in every file, for the warnings about those we do not use. */
  allEntries: VarEntry[];
}

export interface SeedOutput {
  raw: Record<string, unknown>;
  map: SourceMap;
  issues: InventoryIssue[];
  warnings: InventoryWarning[];
  /** Fields whose problem is already reported (an unusable template): schema "missing" errors there would repeat it. */
  suppressed: Path[];
}

const at = (e: VarEntry): Position => e.site.value;
const sameSite = (a: VarEntry, b: VarEntry): boolean =>
  a.site.value.file === b.site.value.file &&
  a.site.value.line === b.site.value.line &&
  a.site.value.column === b.site.value.column;
const where = (p: Position, from: string): string => (p.file === from ? `line ${p.line}` : `${p.file}:${p.line}`);
const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v)));

function setIn(obj: Record<string, unknown>, path: Path, value: unknown): void {
  let cur: Record<string | number, unknown> = obj;
  path.forEach((p, i) => {
    if (i === path.length - 1) cur[p] = value;
    else {
      const next = cur[p];
      if (next === null || typeof next !== 'object') cur[p] = {};
      cur = cur[p] as Record<string | number, unknown>;
    }
  });
}

function deepMerge(target: Record<string, unknown>, src: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(src)) {
    const t = target[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && t && typeof t === 'object' && !Array.isArray(t))
      deepMerge(t as Record<string, unknown>, v as Record<string, unknown>);
    else target[k] = v;
  }
}

export function mapSeed(input: SeedInput): SeedOutput {
  const root: Position = { file: input.file, line: 1, column: 1 };
  const map = new SourceMap(root);
  const raw: Record<string, unknown> = { cluster: {}, hosts: [] };
  const issues: InventoryIssue[] = [];
  const warnings: InventoryWarning[] = [];
  const usedByTemplates = new Set<string>();
  const suppressed: Path[] = [];
  const issue = (p: Position, field: string, message: string): void => void issues.push({ ...p, field, message });

  const setFrom = (path: Path, value: unknown, e: VarEntry, alias = e.name): void => {
    setIn(raw, path, value);
    map.set(path, { ...e.site, alias });
  };

  // Where a required cluster setting would go, so "missing" points somewhere useful and says what to set.
  const clusterSite = input.clusterGroup?.site ?? { value: root };
  map.set(['cluster'], { value: clusterSite.value, alias: 'cluster' });
  map.set(['hosts'], input.hostsSite);
  map.set(['cluster', 'name'], {
    value: clusterSite.value,
    alias: 'CLUSTER_NAME',
    missing: 'CLUSTER_NAME is not set; set it in group_vars/all.yaml or the group_vars file of the cluster group',
  });
  map.set(['cluster', 'kubernetesVersion'], {
    value: root,
    alias: 'KUBERNETES_VERSION',
    missing: 'KUBERNETES_VERSION is not set; set it in group_vars/all.yaml (e.g. KUBERNETES_VERSION: "1.32.4")',
  });
  map.set(['cluster', 'vip'], {
    value: root,
    alias: 'MASTER_VIP',
    missing: 'no VIP: set MASTER_VIP (or APISERVER_VIP) in group_vars, or list the address in an [apiserver_vip] group',
  });

  const scopes = input.hosts.length
    ? input.hosts.map((h) => ({ who: h.name, vars: h.vars }))
    : [{ who: 'all', vars: input.allVars }];

  /** The one value a cluster-wide variable has; every host that sets it must agree (after templates). */
  const clusterValue = (name: string): { value: unknown; text: string; entry: VarEntry } | undefined => {
    let chosen: { value: unknown; text: string; entry: VarEntry; who: string } | undefined;
    for (const { who, vars } of scopes) {
      const entry = vars.get(name);
      if (!entry) continue;
      const r = resolveTemplate(entry.value, { lookup: (n) => vars.get(n)?.value, hostsOf: input.hostsOf });
      if ('error' in r) {
        issue(at(entry), name, r.error);
        const path: Path = clusterVars[name as ClusterVar] ?? [];
        suppressed.push(path[1] === 'vip' ? path.slice(0, 2) : path);
        return undefined;
      }
      r.used.forEach((u) => usedByTemplates.add(u));
      const value = r.value;
      // INI values are typed like Python literals; a string field wants the text as written ("1.30", not 1.3).
      const text = entry.raw !== undefined && entry.value === r.value ? entry.raw : String(value);
      if (!chosen) chosen = { value, text, entry, who };
      else if (JSON.stringify(chosen.value) !== JSON.stringify(value) && !sameSite(chosen.entry, entry)) {
        issue(
          at(entry),
          name,
          `${name} is ${show(value)} for ${who} (set here) but ${show(chosen.value)} for ${chosen.who} (${where(at(chosen.entry), at(entry).file)}); kubeadm2ha settings are cluster-wide`,
        );
        break;
      }
    }
    return chosen && { value: chosen.value, text: chosen.text, entry: chosen.entry };
  };

  for (const name of Object.keys(clusterVars) as ClusterVar[]) {
    const found = clusterValue(name);
    if (!found) continue;
    const { value, text, entry } = found;
    const path = clusterVars[name];
    if (name === 'VIP_MANAGER') {
      if (String(value) !== 'keepalived')
        warnings.push({ ...at(entry), field: name, text: `${show(value)} ignored: ${topics.kubeVip}` });
    } else if (name === 'LOAD_BALANCING' && String(value) === 'kube-vip') {
      warnings.push({
        ...at(entry),
        field: name,
        text: `kube-vip is not used: keepalived holds the VIP and the apiserver answers on it directly (loadBalancer.kind: none)`,
      });
      setFrom(path, 'none', entry);
    } else if (name === 'APISERVER_VIP' && (raw.cluster as { vip?: unknown }).vip) {
      const mv = map.get(['cluster', 'vip', 'address']);
      const current = (raw.cluster as { vip: { address?: unknown } }).vip.address;
      if (current !== value)
        issue(
          at(entry),
          name,
          `APISERVER_VIP ${show(value)} differs from MASTER_VIP ${show(current)}${mv ? ` (${where(mv.value, at(entry).file)})` : ''}; set one of them`,
        );
    } else if (name === 'ETCD_VERSION' || name === 'KUBERNETES_VERSION' || name === 'CLUSTER_NAME') {
      const asText = typeof value === 'number' ? text : value;
      setFrom(path, name === 'ETCD_VERSION' && typeof asText === 'string' ? asText.replace(/^v/, '') : asText, entry);
    } else setFrom(path, value, entry);
  }

  const cluster = raw.cluster as Record<string, unknown>;
  if (cluster.name === undefined && input.clusterGroup) {
    const name = input.clusterGroup.name.toLowerCase().replace(/_/g, '-');
    setIn(raw, ['cluster', 'name'], name);
    map.set(['cluster', 'name'], { ...input.clusterGroup.site, alias: 'CLUSTER_NAME' });
    warnings.push({
      ...input.clusterGroup.site.value,
      field: 'CLUSTER_NAME',
      text: `not set; using "${name}", the group that holds every host`,
    });
  }
  if (cluster.vip === undefined && input.vipHost) {
    setIn(raw, ['cluster', 'vip', 'address'], input.vipHost.address);
    map.set(['cluster', 'vip', 'address'], { ...input.vipHost.site, alias: '[apiserver_vip]' });
  }

  applyOverride(scopes, raw, map, issues);
  const etcd = (raw.cluster as { etcd?: { mode?: unknown } }).etcd;
  if (etcd?.mode === 'stacked') dropStackedEtcdRoles(input, map.get(['cluster', 'etcd', 'mode']), warnings);
  mapHosts(input, raw, map, issues, warnings);
  // The seed's keepalived used each master's default-route interface; we need it named.
  const vip = (raw.cluster as { vip?: Record<string, unknown> }).vip;
  if (vip && vip.interface === undefined)
    warnings.push({
      ...(map.get(['cluster', 'vip', 'address'])?.value ?? root),
      field: map.get(['cluster', 'vip', 'address'])?.alias ?? 'MASTER_VIP',
      text: "the seed bound the VIP to each master's default-route interface; kubeadm2ha uses vip.interface (default eth0): set kubeadm2ha.cluster.vip.interface in group_vars if yours differs",
    });
  warnAboutUnused(input.allEntries, usedByTemplates, issues, warnings);
  return { raw, map, issues, warnings, suppressed };
}

function applyOverride(
  scopes: { who: string; vars: VarSet }[],
  raw: Record<string, unknown>,
  map: SourceMap,
  issues: InventoryIssue[],
): void {
  let chosen: VarEntry | undefined;
  for (const { vars } of scopes) {
    const e = vars.get(OVERRIDE_VAR);
    if (!e || (chosen && sameSite(chosen, e))) continue;
    if (chosen) {
      issues.push({
        ...at(e),
        field: OVERRIDE_VAR,
        message: `set in two places (also ${where(at(chosen), at(e).file)}) for different hosts; kubeadm2ha settings are cluster-wide, set it once`,
      });
      return;
    }
    chosen = e;
  }
  if (!chosen) return;
  const v = chosen.value;
  if (!v || typeof v !== 'object' || Array.isArray(v) || !chosen.yaml) {
    issues.push({
      ...at(chosen),
      field: OVERRIDE_VAR,
      message: 'expected a map with cluster and/or ssh settings, written in a group_vars YAML file',
    });
    return;
  }
  for (const [k, sub] of Object.entries(v as Record<string, unknown>)) {
    const site = chosen.yaml.map.get([...chosen.yaml.path, k]);
    if (k !== 'cluster' && k !== 'ssh') {
      issues.push({
        ...(site?.key ?? at(chosen)),
        field: `${OVERRIDE_VAR}.${k}`,
        message: 'only cluster and ssh can be set here; hosts come from the inventory groups',
      });
      continue;
    }
    map.graft(chosen.yaml.map, [...chosen.yaml.path, k], [k], `${OVERRIDE_VAR}.${k}`);
    if (sub && typeof sub === 'object' && !Array.isArray(sub)) {
      const target = (raw[k] ??= {}) as Record<string, unknown>;
      deepMerge(target, sub as Record<string, unknown>);
    } else raw[k] = sub;
  }
}

type SshField = 'port' | 'user' | 'identityFile' | 'bastion';

function mapHosts(
  input: SeedInput,
  raw: Record<string, unknown>,
  map: SourceMap,
  issues: InventoryIssue[],
  warnings: InventoryWarning[],
): void {
  const hosts: Record<string, unknown>[] = [];
  const perField = new Map<SshField, { index: number; value: unknown; entry: VarEntry }[]>();
  const become: { entry: VarEntry; on: boolean }[] = [];
  const issue = (e: VarEntry, message: string): void =>
    void issues.push({ ...at(e), field: e.site.alias ?? e.name, message });

  input.hosts.forEach((h, index) => {
    let name = h.name;
    let address: unknown = h.name;
    const hostPath = ['hosts', index];
    map.set(hostPath, h.site);
    if (/[A-Z]/.test(name)) {
      warnings.push({
        ...h.site.value,
        field: h.name,
        text: `node name taken as "${name.toLowerCase()}" (kubelet lower-cases host names)`,
      });
      name = name.toLowerCase();
    }
    if (name.includes('.') && !/^\d+(\.\d+){3}$/.test(name)) {
      const short = name.split('.')[0] ?? name;
      warnings.push({
        ...h.site.value,
        field: h.name,
        text: `node name taken as "${short}", the first label of ${name}; it must be the name the host reports`,
      });
      name = short;
    }
    map.set([...hostPath, 'name'], { ...h.site, alias: h.name });
    map.set([...hostPath, 'address'], { ...h.site, alias: h.name });
    map.set([...hostPath, 'roles'], { ...h.site, alias: h.name });
    h.roles.forEach((r, k) => map.set([...hostPath, 'roles', k], r.site));

    const byKind = new Map<string, VarEntry[]>();
    for (const [vname, e] of h.vars) {
      const kind = connectionVars[vname];
      if (kind) byKind.set(kind, [...(byKind.get(kind) ?? []), e]);
    }
    const one = (kind: string): VarEntry | undefined => {
      const list = byKind.get(kind) ?? [];
      const [first, second] = list;
      if (first && second && JSON.stringify(first.value) !== JSON.stringify(second.value))
        issue(
          second,
          `${second.name} ${show(second.value)} contradicts ${first.name} ${show(first.value)} (${where(at(first), at(second).file)}); set one of them`,
        );
      return first;
    };
    const resolved = (e: VarEntry): unknown => {
      const r = resolveTemplate(e.value, {
        lookup: (n) => (n === 'inventory_hostname' ? h.name : h.vars.get(n)?.value),
        hostsOf: input.hostsOf,
      });
      if ('error' in r) {
        issue(e, r.error);
        return e.value;
      }
      return r.value;
    };
    const addr = one('address');
    if (addr) {
      address = resolved(addr);
      map.set([...hostPath, 'address'], { ...addr.site, alias: `${h.name} ${addr.name}` });
    }
    hosts.push({ name, address, roles: h.roles.map((r) => r.role) });
    for (const [kind, field] of [
      ['port', 'port'],
      ['user', 'user'],
      ['identityFile', 'identityFile'],
    ] as const) {
      const e = one(kind);
      if (e) perField.set(field, [...(perField.get(field) ?? []), { index, value: resolved(e), entry: e }]);
    }
    for (const e of byKind.get('sshArgs') ?? []) {
      const { bastion, rest } = parseSshArgs(String(resolved(e)));
      if (bastion) perField.set('bastion', [...(perField.get('bastion') ?? []), { index, value: bastion, entry: e }]);
      if (rest.length) warnings.push({ ...at(e), field: e.name, text: `${rest.join(' ')} ignored: ${topics.sshArgs}` });
    }
    const b = one('become');
    if (b) become.push({ entry: b, on: truthy(resolved(b)) });
    const bu = one('becomeUser');
    if (bu && String(resolved(bu)) !== 'root')
      issue(bu, `kubeadm2ha becomes root to set up a host, not ${show(bu.value)}`);
    const bm = one('becomeMethod');
    if (bm && String(resolved(bm)) !== 'sudo')
      issue(bm, `only sudo is supported (passwordless, as sudo -n), not ${show(bm.value)}`);
    const c = one('connection');
    if (c && !['ssh', 'smart', 'paramiko'].includes(String(resolved(c))))
      issue(c, `kubeadm2ha reaches hosts over SSH only, not ${show(c.value)}`);
  });
  raw.hosts = hosts;

  // A setting every host takes from the same line becomes a global ssh setting; otherwise it stays per host.
  for (const [field, list] of perField) {
    const [first] = list;
    const shared = first && list.length === input.hosts.length && list.every((x) => sameSite(x.entry, first.entry));
    const global = (raw.ssh as Record<string, unknown> | undefined)?.[field];
    if (shared && global !== undefined) continue; // kubeadm2ha.ssh in group_vars said it explicitly
    if (shared) {
      setIn(raw, ['ssh', field], first.value);
      map.set(['ssh', field], { ...first.entry.site, alias: first.entry.name });
      continue;
    }
    for (const { index, value, entry } of list) {
      setIn(raw, ['hosts', index, 'ssh', field], value);
      map.set(['hosts', index, 'ssh', field], { ...entry.site, alias: entry.site.alias ?? entry.name });
    }
  }
  const on = become.filter((x) => x.on);
  if (on.length > 0 && (raw.ssh as Record<string, unknown> | undefined)?.sudo === undefined) {
    const off = input.hosts.length - on.length;
    if (off > 0)
      issues.push({
        ...at(on[0]!.entry),
        field: on[0]!.entry.name,
        message: `ansible_become is on for ${on.length} host(s) but not for ${off}; kubeadm2ha's sudo setting is the same for every host`,
      });
    else {
      setIn(raw, ['ssh', 'sudo'], true);
      map.set(['ssh', 'sudo'], { ...on[0]!.entry.site, alias: on[0]!.entry.name });
    }
  }
}

/**
 * The seed keeps an [etcd] group even with ETCD_HOSTING: stacked (its playbooks just skip it). Under stacked etcd
 * kubeadm runs etcd on the masters, so that group means nothing for masters: drop it there, with a note. An etcd
 * host that is not a master keeps the role, and the rules report it, since it would never get etcd.
 */
function dropStackedEtcdRoles(input: SeedInput, modeSite: Site | undefined, warnings: InventoryWarning[]): void {
  const dropped: string[] = [];
  for (const h of input.hosts) {
    const master = h.roles.some((r) => r.role === 'primary-master' || r.role === 'secondary-master');
    if (!master || !h.roles.some((r) => r.role === 'etcd')) continue;
    h.roles = h.roles.filter((r) => r.role !== 'etcd');
    dropped.push(h.name);
  }
  if (dropped.length)
    warnings.push({
      ...(modeSite?.value ?? { file: input.file, line: 1, column: 1 }),
      field: modeSite?.alias ?? 'ETCD_HOSTING',
      text: `stacked etcd runs on the masters: the [etcd] group is not used for ${dropped.join(', ')}`,
    });
}

/** Take ProxyJump from `-J host` / `-o ProxyJump=host`; return every other argument to be reported. */
export function parseSshArgs(args: string): { bastion?: string; rest: string[] } {
  const words = args.split(/\s+/).filter(Boolean);
  const rest: string[] = [];
  let bastion: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? '';
    const opt = w === '-o' ? (words[++i] ?? '') : w.startsWith('-o') ? w.slice(2) : undefined;
    if (w === '-J') bastion = words[++i];
    else if (opt !== undefined && /^ProxyJump[= ]/i.test(opt)) bastion = opt.replace(/^ProxyJump[= ]+/i, '');
    else if (opt !== undefined && /^ProxyJump$/i.test(opt)) bastion = words[++i];
    else rest.push(opt !== undefined ? `-o ${opt}` : w);
  }
  return bastion ? { bastion, rest } : { rest };
}

function warnAboutUnused(
  entries: VarEntry[],
  used: Set<string>,
  issues: InventoryIssue[],
  warnings: InventoryWarning[],
): void {
  const seen = new Set<string>();
  const grouped = new Map<string, { topic: Topic; list: VarEntry[] }>();
  for (const e of entries) {
    const key = `${e.site.value.file}:${e.site.value.line}:${e.site.value.column}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const kind = classify(e.name, e.value);
    if (kind.kind === 'secret') {
      issues.push({
        ...at(e),
        field: e.site.alias ?? e.name,
        message:
          'passwords do not belong in an inventory: kubeadm2ha logs in with keys (ansible_ssh_private_key_file) or the SSH agent, and uses passwordless sudo',
      });
      continue;
    }
    if (kind.kind !== 'ignored' && !(kind.kind === 'versionPart' && !used.has(e.name))) continue;
    const topic: Topic = kind.kind === 'ignored' ? kind.topic : 'unknown';
    if (topic === 'ansibleOnly' && e.name === 'ansible_group_priority') continue;
    const g = `${topic}\u0000${e.site.value.file}`;
    const bucket = grouped.get(g) ?? { topic, list: [] };
    bucket.list.push(e);
    grouped.set(g, bucket);
  }
  for (const { topic, list } of grouped.values()) {
    const [first, ...rest] = list.sort(
      (a, b) => a.site.value.line - b.site.value.line || a.site.value.column - b.site.value.column,
    );
    if (!first) continue;
    const also = rest.length ? ` (also ${rest.map((e) => e.name).join(', ')})` : '';
    const value = topic === 'cni' || topic === 'weave' ? ` ${first.name}=${String(first.value)}` : '';
    warnings.push({ ...at(first), field: first.name, text: `ignored${value}${also}: ${topics[topic]}` });
  }
}
