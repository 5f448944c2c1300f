// Shared shapes and helpers of the seed mapping (ansible-vars.ts for cluster settings, ansible-hosts.ts for hosts).
import type { VarEntry, VarSet } from './ansible-varfiles.js';
import type { InventoryIssue, InventoryWarning } from './errors.js';
import type { Path, Position, Site, SourceMap } from './locate.js';
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

export const at = (e: VarEntry): Position => e.site.value;
export const sameSite = (a: VarEntry, b: VarEntry): boolean =>
  a.site.value.file === b.site.value.file &&
  a.site.value.line === b.site.value.line &&
  a.site.value.column === b.site.value.column;
export const where = (p: Position, from: string): string =>
  p.file === from ? `line ${p.line}` : `${p.file}:${p.line}`;
export const show = (v: unknown): string =>
  typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));

export function setIn(obj: Record<string, unknown>, path: Path, value: unknown): void {
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

export function deepMerge(target: Record<string, unknown>, src: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(src)) {
    const t = target[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && t && typeof t === 'object' && !Array.isArray(t))
      deepMerge(t as Record<string, unknown>, v as Record<string, unknown>);
    else target[k] = v;
  }
}
