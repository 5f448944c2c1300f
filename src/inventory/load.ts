// One entry point for every inventory format: find the file, read it with its format's reader, then validate
// the same way for all formats — schema (all issues, each located) and cross-field rules — and either return
// the typed Inventory with its warnings or throw one InventoryError listing every problem.
import { readdir, stat } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { readAnsibleInventory } from './ansible.js';
import { InventoryError, sortIssues, type InventoryIssue, type InventoryWarning } from './errors.js';
import { zodIssuesToInventoryIssues } from './issues.js';
import { checkRules, ruleView } from './rules.js';
import { Inventory } from './schema.js';
import type { LoadedSource } from './source.js';
import { readYaml } from './yaml.js';

const yamlExt = new Set(['.yaml', '.yml', '.json']);
/** Names an Ansible inventory usually has inside an inventory directory, in the order we try them. */
const iniNames = ['hosts', 'inventory', 'hosts.ini', 'inventory.ini'];
const yamlNames = ['inventory.yaml', 'inventory.yml', 'kubeadm2ha.yaml'];

const fail = (file: string, message: string): never => {
  throw new InventoryError([{ file, line: 1, column: 1, field: '', message }]);
};

/** The file to read for `path`: itself, or for a directory the inventory inside it. */
export async function resolveInventoryFile(path: string): Promise<string> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) =>
    fail(path, `cannot read the inventory: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`),
  );
  if (!st.isDirectory()) return path;
  const entries = await readdir(path);
  const found =
    [...iniNames, ...yamlNames].find((n) => entries.includes(n)) ??
    (entries.filter((n) => n.endsWith('.inventory')).length === 1
      ? entries.find((n) => n.endsWith('.inventory'))
      : undefined);
  return found
    ? join(path, found)
    : fail(
        path,
        `no inventory in this directory (looked for ${[...iniNames, ...yamlNames, '*.inventory'].join(', ')})`,
      );
}

async function readYamlInventory(file: string): Promise<LoadedSource> {
  const parsed = await readYaml(file);
  const v = parsed.value as Record<string, unknown> | undefined;
  // An Ansible YAML inventory has `all:` at the top; say so instead of listing three unknown keys.
  if (v && typeof v === 'object' && 'all' in v && !('cluster' in v)) {
    const at = parsed.map.key(['all']);
    parsed.issues.push({
      ...at,
      message:
        "this is an Ansible YAML inventory, which kubeadm2ha does not read: use the INI form (with group_vars) or kubeadm2ha's YAML",
    });
    return {
      format: 'yaml',
      file,
      value: undefined,
      map: parsed.map,
      issues: parsed.issues,
      warnings: parsed.warnings,
      sourceFiles: [file],
    };
  }
  return {
    format: 'yaml',
    file,
    value: parsed.value,
    map: parsed.map,
    issues: parsed.issues,
    warnings: parsed.warnings,
    sourceFiles: [file],
  };
}

export async function readInventorySource(path: string): Promise<LoadedSource> {
  const file = await resolveInventoryFile(path);
  return yamlExt.has(extname(file).toLowerCase()) ? readYamlInventory(file) : readAnsibleInventory(file);
}

export interface Validated {
  inventory?: Inventory;
  issues: InventoryIssue[];
  warnings: InventoryWarning[];
}

export function validateSource(src: LoadedSource): Validated {
  const issues = [...src.issues];
  const warnings = [...src.warnings];
  if (src.value === undefined) {
    if (issues.length === 0) issues.push({ ...src.map.root, field: '', message: 'the inventory is empty' });
    return { issues: sortIssues(issues), warnings };
  }
  const parsed = Inventory.safeParse(src.value);
  const opts = { skipMissing: src.partial ?? false, suppressed: src.suppressed ?? [] };
  if (!parsed.success)
    issues.push(...zodIssuesToInventoryIssues(parsed.error.issues, src.value, src.map, Inventory, opts));
  const view = ruleView(src.value, parsed.success ? parsed.data : undefined);
  if (src.partial) view.allHosts = false;
  for (const f of checkRules(view)) {
    const at = f.at === 'key' ? src.map.key(f.path) : src.map.value(f.path);
    let message = f.message;
    if (f.see) {
      const s = src.map.value(f.see);
      message += ` (see ${s.file === at.file ? `line ${s.line}` : `${s.file}:${s.line}`})`;
    }
    if (f.severity === 'error') issues.push({ ...at, message });
    else warnings.push({ file: at.file, line: at.line, column: at.column, field: at.field, text: message });
  }
  return {
    ...(issues.length === 0 && parsed.success && { inventory: parsed.data }),
    issues: sortIssues(issues),
    warnings: sortIssues(warnings),
  };
}

export async function loadInventory(
  path: string,
): Promise<{ inventory: Inventory; warnings: InventoryWarning[]; sourceFiles: string[] }> {
  const src = await readInventorySource(path);
  const { inventory, issues, warnings } = validateSource(src);
  if (!inventory) throw new InventoryError(issues, warnings);
  // A pod network manifest named relative to the inventory is found next to it, wherever the command runs.
  const network = inventory.cluster.network;
  if (network.manifest !== undefined && !isAbsolute(network.manifest))
    network.manifest = resolve(dirname(src.file), network.manifest);
  return { inventory, warnings, sourceFiles: src.sourceFiles };
}
