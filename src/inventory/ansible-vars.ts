// Seed variables → the plain inventory object our schema checks, with a SourceMap entry for every value so that
// schema and rule errors point at the INI line or group_vars line that set it, named by the variable.
import { classify, clusterVars, OVERRIDE_VAR, topics, type ClusterVar, type Topic } from './ansible-seed-vars.js';
import { at, deepMerge, sameSite, setIn, show, where, type SeedInput, type SeedOutput } from './ansible-common.js';
import { dropStackedEtcdRoles, mapHosts } from './ansible-hosts.js';
import { resolveTemplate } from './ansible-template.js';
import type { VarEntry, VarSet } from './ansible-varfiles.js';
import type { InventoryIssue, InventoryWarning } from './errors.js';
import { SourceMap, type Path, type Position } from './locate.js';

export type { SeedHost, SeedInput, SeedOutput } from './ansible-common.js';
export { parseSshArgs } from './ansible-hosts.js';

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
    } else if (name === 'NETWORK_PLUGIN') {
      // The seed offered flannel, calico and weavenet; we install flannel ourselves and apply any other manifest
      // the user names. Without one, no pod network is installed and the user is told so.
      const plugin = String(value).toLowerCase();
      if (plugin === 'flannel') setFrom(path, 'flannel', entry);
      else {
        warnings.push({
          ...at(entry),
          field: name,
          text: `NETWORK_PLUGIN=${String(value)}: ${plugin.startsWith('weave') ? topics.weave : `kubeadm2ha installs no ${String(value)} by itself: set kubeadm2ha.cluster.network to { plugin: manifest, manifest: <its manifest file> }`} (network.plugin: none until then)`,
        });
        setFrom(path, 'none', entry);
      }
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
    const kind = classify(e.name);
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
