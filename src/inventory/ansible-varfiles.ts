// group_vars/ and host_vars/ next to an INI inventory, and Ansible's variable precedence over them:
//   inventory [group:vars] (all first, then by depth, priority, name)  <  group_vars/all  <  group_vars/<group>
//   (by depth, priority, name)  <  inventory host variables  <  host_vars/<host>
// (ansible/vars/manager.py's default VARIABLE_PRECEDENCE: even a child group's INI vars lose to group_vars/all.)
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { IniInventory, IniVar } from './ansible-ini.js';
import type { GroupGraph } from './ansible-groups.js';
import type { InventoryIssue, InventoryWarning } from './errors.js';
import type { Path, Site, SourceMap } from './locate.js';
import { parseYaml } from './yaml.js';

export interface VarEntry {
  name: string;
  value: unknown;
  /** Text as written in an INI file (YAML values are typed already). */
  raw?: string;
  site: Site;
  /** For values from YAML: the file's map and this variable's path in it, to locate nested keys. */
  yaml?: { map: SourceMap; path: Path };
}

export type VarSet = Map<string, VarEntry>;

export interface VarFiles {
  groups: Map<string, VarSet>;
  hosts: Map<string, VarSet>;
  files: string[];
  issues: InventoryIssue[];
  warnings: InventoryWarning[];
}

const varFileName = /^(.+?)(\.ya?ml|\.json)?$/;

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => !n.startsWith('.') && !n.endsWith('~')).sort();
  } catch {
    return [];
  }
}

async function readVarFile(file: string, into: VarSet, out: VarFiles): Promise<void> {
  const text = await readFile(file, 'utf8');
  out.files.push(file);
  if (text.startsWith('$ANSIBLE_VAULT')) {
    out.issues.push({
      file,
      line: 1,
      column: 1,
      field: '(vault)',
      message:
        'vault-encrypted files are not supported: kubeadm2ha inventories hold no secrets; decrypt it and remove any secrets',
    });
    return;
  }
  // PyYAML reads YAML 1.1, where `no` is false: parse the same way so values mean what they meant to Ansible.
  const parsed = parseYaml(text, file, { version: '1.1' });
  out.issues.push(...parsed.issues);
  out.warnings.push(...parsed.warnings);
  if (parsed.value === undefined || parsed.value === null) return;
  if (typeof parsed.value !== 'object' || Array.isArray(parsed.value)) {
    out.issues.push({
      file,
      line: 1,
      column: 1,
      field: '(yaml)',
      message: 'expected a map of variables at the top level',
    });
    return;
  }
  for (const [name, value] of Object.entries(parsed.value as Record<string, unknown>)) {
    const site = parsed.map.get([name]) ?? parsed.map.root;
    into.set(name, {
      name,
      value,
      site: { ...('value' in site ? site : { value: site }), alias: name },
      yaml: { map: parsed.map, path: [name] },
    });
  }
}

async function readVarDir(dir: string, into: Map<string, VarSet>, out: VarFiles): Promise<void> {
  for (const entry of await listDir(dir)) {
    const full = join(dir, entry);
    const target = varFileName.exec(entry)?.[1] ?? entry;
    const set = into.get(target) ?? new Map<string, VarEntry>();
    into.set(target, set);
    if ((await stat(full)).isDirectory())
      for (const f of await listDir(full)) await readVarFile(join(full, f), set, out);
    else await readVarFile(full, set, out);
  }
}

export async function readVarFiles(inventoryDir: string): Promise<VarFiles> {
  const out: VarFiles = { groups: new Map(), hosts: new Map(), files: [], issues: [], warnings: [] };
  await readVarDir(join(inventoryDir, 'group_vars'), out.groups, out);
  await readVarDir(join(inventoryDir, 'host_vars'), out.hosts, out);
  return out;
}

const fromIni = (v: IniVar): VarEntry => ({ name: v.name, value: v.value, raw: v.raw, site: v.site });

/** Groups in Ansible's order for precedence: by depth, then ansible_group_priority, then name. */
export function sortGroups(groups: Iterable<string>, graph: GroupGraph, inv: IniInventory): string[] {
  const priority = (g: string): number => {
    const v = inv.groups.get(g)?.vars.find((x) => x.name === 'ansible_group_priority')?.value;
    return typeof v === 'number' ? v : 1;
  };
  return [...groups].sort(
    (a, b) => (graph.depth.get(a) ?? 0) - (graph.depth.get(b) ?? 0) || priority(a) - priority(b) || a.localeCompare(b),
  );
}

/** The variables one host sees, each with where it was set. */
export function effectiveVars(host: string, inv: IniInventory, graph: GroupGraph, files: VarFiles): VarSet {
  const out: VarSet = new Map();
  const put = (entries: Iterable<VarEntry>): void => {
    for (const e of entries) out.set(e.name, e);
  };
  const groups = sortGroups(
    [...(graph.groupsOf.get(host) ?? ['all'])].filter((g) => g !== 'all'),
    graph,
    inv,
  );
  put((inv.groups.get('all')?.vars ?? []).map(fromIni));
  for (const g of groups) put((inv.groups.get(g)?.vars ?? []).map(fromIni));
  put(files.groups.get('all')?.values() ?? []);
  for (const g of groups) put(files.groups.get(g)?.values() ?? []);
  // A host may be listed on several lines; later lines win, as in Ansible.
  const lines = [...inv.groups.values()].flatMap((g) => g.hosts.filter((l) => l.name === host));
  lines.sort((a, b) => a.site.value.line - b.site.value.line);
  for (const line of lines) put(line.vars.map(fromIni));
  put(files.hosts.get(host)?.values() ?? []);
  return out;
}
