// The group graph of an INI inventory: which groups contain which (children), the depth Ansible uses to order
// variable precedence, and each host's full set of groups. Mirrors Ansible's checks — a child group or a
// `[g:vars]` section for a group never declared is an error, and so is a cycle, which we name in full.
import type { IniInventory } from './ansible-ini.js';
import type { InventoryIssue } from './errors.js';

export interface GroupGraph {
  /** Group → its children, cycles removed. */
  children: Map<string, string[]>;
  /** Group → depth: `all` is 0, groups without parents 1, a child one deeper than its deepest parent. */
  depth: Map<string, number>;
  /** Host → every group it is in, directly or through parents, `all` included. */
  groupsOf: Map<string, Set<string>>;
  /** Group → its hosts including those of child groups, in inventory order (Ansible's `groups['g']`). */
  hostsOf(group: string): string[];
  /** Group → itself and every group above it. */
  ancestorsOf(group: string): Set<string>;
  issues: InventoryIssue[];
}

export function buildGroupGraph(inv: IniInventory): GroupGraph {
  const issues: InventoryIssue[] = [];
  const children = new Map<string, string[]>();
  for (const g of inv.groups.values()) {
    if (!g.declared) {
      for (const parent of inv.groups.values())
        for (const c of parent.children)
          if (c.name === g.name)
            issues.push({
              ...c.site.value,
              field: c.site.alias ?? g.name,
              message: `[${parent.name}:children] names group "${g.name}", which is never declared (add a [${g.name}] section)`,
            });
      for (const h of g.varsHeaders)
        issues.push({
          ...h,
          field: `[${g.name}:vars]`,
          message: `vars for group "${g.name}", which is never declared (add a [${g.name}] section)`,
        });
    }
    children.set(
      g.name,
      g.children.map((c) => c.name),
    );
  }

  // Cycles: depth-first search; an edge back into the current path closes a loop. Report it at the line that
  // closes it and drop that edge so the rest of the inventory can still be checked.
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 'open');
    stack.push(name);
    const group = inv.groups.get(name);
    for (const child of [...(children.get(name) ?? [])]) {
      if (state.get(child) === 'open') {
        const loop = [...stack.slice(stack.indexOf(child)), child];
        const site = group?.children.find((c) => c.name === child)?.site;
        issues.push({
          ...(site?.value ?? { file: inv.file, line: 1, column: 1 }),
          field: site?.alias ?? `[${name}:children]`,
          message: `group cycle: ${loop.join(' → ')}`,
        });
        children.set(
          name,
          (children.get(name) ?? []).filter((c) => c !== child),
        );
      } else if (!state.has(child)) visit(child);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const name of inv.groups.keys()) if (!state.has(name)) visit(name);

  const parents = new Map<string, string[]>();
  for (const [p, cs] of children) for (const c of cs) parents.set(c, [...(parents.get(c) ?? []), p]);
  const depth = new Map<string, number>();
  const depthOf = (g: string): number => {
    const known = depth.get(g);
    if (known !== undefined) return known;
    const ps = (parents.get(g) ?? []).filter((p) => p !== 'all');
    const d = g === 'all' ? 0 : ps.length === 0 ? 1 : Math.max(...ps.map(depthOf)) + 1;
    depth.set(g, d);
    return d;
  };
  for (const g of inv.groups.keys()) depthOf(g);

  const ancestors = (g: string, seen = new Set<string>()): Set<string> => {
    if (seen.has(g)) return seen;
    seen.add(g);
    for (const p of parents.get(g) ?? []) ancestors(p, seen);
    return seen;
  };
  const groupsOf = new Map<string, Set<string>>();
  for (const g of inv.groups.values())
    for (const h of g.hosts) {
      const set = groupsOf.get(h.name) ?? new Set(['all']);
      for (const a of ancestors(g.name)) set.add(a);
      groupsOf.set(h.name, set);
    }

  const hostsOf = (group: string): string[] => inv.hostOrder.filter((h) => groupsOf.get(h)?.has(group));
  return { children, depth, groupsOf, hostsOf, ancestorsOf: (g) => ancestors(g), issues };
}
