// Reads the seed's Ansible inventory: the INI file, group_vars/ and host_vars/ beside it. Groups become roles
// (primary-master, secondary-masters, masters, minions/workers, nodes, etcd, elasticsearch_hot/_warm; hyphen or
// underscore spelling),
// variables are merged in Ansible's precedence and mapped onto our schema by ansible-vars.ts.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildGroupGraph, type GroupGraph } from './ansible-groups.js';
import { parseIni, type IniInventory } from './ansible-ini.js';
import { normalizeGroup, roleGroups, seedOtherGroups } from './ansible-seed-vars.js';
import { effectiveVars, readVarFiles, type VarEntry, type VarFiles, type VarSet } from './ansible-varfiles.js';
import { mapSeed, type SeedHost, type SeedInput } from './ansible-vars.js';
import type { InventoryIssue, InventoryWarning } from './errors.js';
import { closest } from './issues.js';
import type { Site } from './locate.js';
import type { Role } from './schema.js';
import type { LoadedSource } from './source.js';

const roleNames = Object.keys(roleGroups);

/** The group of the host's own lines through which it belongs to `group`, for pointing at the right line. */
function lineVia(inv: IniInventory, graph: GroupGraph, host: string, group: string): Site | undefined {
  for (const g of inv.groups.values())
    for (const line of g.hosts) if (line.name === host && graph.ancestorsOf(g.name).has(group)) return line.site;
  return undefined;
}

function firstLine(inv: IniInventory, host: string): Site {
  const lines = [...inv.groups.values()].flatMap((g) => g.hosts.filter((l) => l.name === host));
  lines.sort((a, b) => a.site.value.line - b.site.value.line);
  return lines[0]?.site ?? { value: { file: inv.file, line: 1, column: 1 } };
}

function assignRoles(inv: IniInventory, graph: GroupGraph, warnings: InventoryWarning[], typoGroups: Set<string>) {
  const hosts: { name: string; site: Site; roles: { role: Role; site: Site }[] }[] = [];
  const vipHosts: { name: string; site: Site }[] = [];
  for (const name of inv.hostOrder) {
    const groups = [...(graph.groupsOf.get(name) ?? [])];
    const via = (kind: string): string | undefined => groups.find((g) => roleGroups[normalizeGroup(g)] === kind);
    const site = firstLine(inv, name);
    const roles: { role: Role; site: Site }[] = [];
    const add = (role: Role, group: string): void => {
      const s = lineVia(inv, graph, name, group) ?? site;
      roles.push({ role, site: { ...s, alias: `${name} [${group}]` } });
    };
    const primary = via('primary-master');
    const secondary = via('secondary-master');
    const masters = via('master');
    const worker = via('worker');
    const node = via('node');
    const etcd = via('etcd');
    if (primary) add('primary-master', primary);
    if (secondary) add('secondary-master', secondary);
    if (masters && !primary && !secondary) {
      add('secondary-master', masters);
      warnings.push({
        ...site.value,
        field: name,
        text: `in [${masters}] but in neither primary-master nor secondary-masters: taken as a secondary master`,
      });
    }
    if (worker) add('worker', worker);
    if (node && !primary && !secondary && !masters && !worker) {
      add('worker', node);
      warnings.push({
        ...site.value,
        field: name,
        text: `in [${node}] but in neither masters nor minions: taken as a worker`,
      });
    }
    if (etcd) add('etcd', etcd);
    const hot = via('logs-hot');
    const warm = via('logs-warm');
    if (hot) add('logs-hot', hot);
    if (warm) add('logs-warm', warm);
    if (roles.length) hosts.push({ name, site, roles });
    else if (via('vip')) vipHosts.push({ name, site });
    else if (!groups.some((g) => typoGroups.has(g))) {
      const own = groups.filter((g) => g !== 'all');
      warnings.push({
        ...site.value,
        field: name,
        text: `left out: ${own.length ? `its groups (${own.join(', ')}) give` : 'it is in no group, which gives'} no kubeadm2ha role (roles come from primary-master, secondary-masters, masters, minions/workers, nodes, etcd, elasticsearch_hot/_warm)`,
      });
    }
  }
  return { hosts, vipHosts };
}

/** Unknown groups one or two letters away from a role group that is missing are almost surely typos. */
function typoGroups(inv: IniInventory, issues: InventoryIssue[]): Set<string> {
  const present = new Set([...inv.groups.keys()].map(normalizeGroup));
  const out = new Set<string>();
  for (const g of inv.groups.values()) {
    const n = normalizeGroup(g.name);
    if (g.name === 'all' || g.name === 'ungrouped' || n in roleGroups || seedOtherGroups.has(n)) continue;
    const guess = closest(
      n,
      roleNames.filter((r) => !present.has(r)),
    );
    if (!guess || !g.declared) continue;
    out.add(g.name);
    const spelled = g.name.includes('-') ? guess.replace(/_/g, '-') : guess;
    issues.push({
      ...g.declared,
      field: `[${g.name}]`,
      message: `unknown group "${g.name}": did you mean [${spelled}]? Its hosts get no role otherwise`,
    });
  }
  return out;
}

/** The group that holds every host, below `all`: the seed names its cluster that way (group_vars/<cluster>.yaml). */
function clusterGroup(inv: IniInventory, graph: GroupGraph, hosts: string[]): SeedInput['clusterGroup'] {
  if (!hosts.length) return undefined;
  const candidates = [...inv.groups.values()].filter(
    (g) =>
      g.name !== 'all' &&
      g.name !== 'ungrouped' &&
      !(normalizeGroup(g.name) in roleGroups) &&
      g.declared &&
      hosts.every((h) => graph.groupsOf.get(h)?.has(g.name)),
  );
  candidates.sort(
    (a, b) => (graph.depth.get(a.name) ?? 0) - (graph.depth.get(b.name) ?? 0) || a.name.localeCompare(b.name),
  );
  const g = candidates[0];
  return g?.declared && { name: g.name, site: { value: g.declared, alias: `[${g.name}]` } };
}

function conflictingHostVars(inv: IniInventory, issues: InventoryIssue[]): void {
  const seen = new Map<string, { raw: string; site: Site }>();
  const lines = [...inv.groups.values()].flatMap((g) => g.hosts);
  lines.sort((a, b) => a.site.value.line - b.site.value.line);
  for (const line of lines)
    for (const v of line.vars) {
      const key = `${line.name}\u0000${v.name}`;
      const before = seen.get(key);
      if (before && before.raw !== v.raw)
        issues.push({
          ...v.site.value,
          field: `${line.name} ${v.name}`,
          message: `is ${JSON.stringify(v.raw)} here but ${JSON.stringify(before.raw)} on line ${before.site.value.line}; a host has one value`,
        });
      else if (!before) seen.set(key, { raw: v.raw, site: v.site });
    }
}

function allEntries(inv: IniInventory, files: VarFiles): VarEntry[] {
  const out: VarEntry[] = [];
  for (const g of inv.groups.values()) {
    for (const v of g.vars) out.push({ name: v.name, value: v.value, raw: v.raw, site: v.site });
    for (const l of g.hosts)
      for (const v of l.vars) out.push({ name: v.name, value: v.value, raw: v.raw, site: v.site });
  }
  for (const [g, set] of files.groups) if (inv.groups.has(g)) out.push(...set.values());
  for (const [h, set] of files.hosts) if (inv.hostOrder.includes(h)) out.push(...set.values());
  return out;
}

export async function readAnsibleInventory(file: string): Promise<LoadedSource> {
  const inv = parseIni(await readFile(file, 'utf8'), file);
  const graph = buildGroupGraph(inv);
  const files = await readVarFiles(dirname(file));
  const issues: InventoryIssue[] = [...inv.issues, ...graph.issues, ...files.issues];
  const partial = issues.length > 0;
  const warnings: InventoryWarning[] = [...inv.warnings, ...files.warnings];

  // Ansible ignores vars files for groups or hosts the inventory does not have; a typo there would go unnoticed.
  const unused = (kind: 'group' | 'host', sets: Map<string, VarSet>, known: (name: string) => boolean): void => {
    for (const [name, set] of sets) {
      if (known(name)) continue;
      const first = [...set.values()][0];
      warnings.push({
        ...(first?.site.value ?? { file: join(dirname(file), `${kind}_vars`, name), line: 1, column: 1 }),
        field: name,
        text: `${kind}_vars for "${name}", which is not a ${kind} of ${file}: not used`,
      });
    }
  };
  unused('group', files.groups, (g) => inv.groups.has(g));
  unused('host', files.hosts, (h) => inv.hostOrder.includes(h));
  conflictingHostVars(inv, issues);
  const typos = typoGroups(inv, issues);
  const { hosts, vipHosts } = assignRoles(inv, graph, warnings, typos);

  const seedHosts: SeedHost[] = hosts.map((h) => ({ ...h, vars: effectiveVars(h.name, inv, graph, files) }));
  const declared = (kind: string): Site | undefined => {
    const g = [...inv.groups.values()].find((x) => roleGroups[normalizeGroup(x.name)] === kind && x.declared);
    return g?.declared && { value: g.declared, alias: `[${g.name}]` };
  };
  const cg = clusterGroup(
    inv,
    graph,
    hosts.map((h) => h.name),
  );
  const vip = vipHosts[0];
  const input: SeedInput = {
    file,
    hosts: seedHosts,
    allVars: effectiveVars('', inv, graph, files),
    hostsOf: (g) => graph.hostsOf(g),
    hostsSite:
      declared('primary-master') ??
      declared('master') ??
      (hosts[0] ? { ...hosts[0].site, alias: 'hosts' } : { value: { file, line: 1, column: 1 }, alias: 'hosts' }),
    allEntries: allEntries(inv, files),
    ...(cg && { clusterGroup: cg }),
    ...(vip && { vipHost: { address: vip.name, site: { ...vip.site, alias: '[apiserver_vip]' } } }),
  };
  const out = mapSeed(input);
  return {
    format: 'ansible',
    file,
    value: out.raw,
    map: out.map,
    issues: [...issues, ...out.issues],
    warnings: [...warnings, ...out.warnings],
    sourceFiles: [file, ...files.files],
    partial,
    suppressed: out.suppressed,
  };
}
