// Our own format: one YAML document shaped like the schema. Parsed as a Document with a LineCounter so every
// node keeps its range; walking the tree once fills a SourceMap (path → line:column) and finds what the yaml
// library lets through silently (duplicate keys are reported with their path, not just a position).
import { readFile } from 'node:fs/promises';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import type { InventoryIssue, InventoryWarning } from './errors.js';
import { formatPath, SourceMap, type Path, type Position } from './locate.js';

export interface ParsedYaml {
  value: unknown;
  map: SourceMap;
  issues: InventoryIssue[];
  warnings: InventoryWarning[];
}

export interface YamlOptions {
  /** Ansible's group_vars are YAML 1.1 (PyYAML): `no` is false there. Our own files are YAML 1.2. */
  version?: '1.1' | '1.2';
}

export function parseYaml(text: string, file: string, opts: YamlOptions = {}): ParsedYaml {
  const lc = new LineCounter();
  const pos = (offset: number): Position => {
    const { line, col } = lc.linePos(offset);
    return { file, line, column: col };
  };
  const map = new SourceMap({ file, line: 1, column: 1 });
  const issues: InventoryIssue[] = [];
  const warnings: InventoryWarning[] = [];
  const parsed = parseAllDocuments(text, {
    lineCounter: lc,
    prettyErrors: false,
    uniqueKeys: false,
    version: opts.version ?? '1.2',
    // `<<: *defaults` is common in hand-written YAML though 1.2 dropped it; PyYAML (YAML 1.1) has it too.
    merge: true,
  });
  const docs = Array.isArray(parsed) ? parsed : [];
  for (const doc of docs) {
    for (const e of doc.errors) issues.push({ ...pos(e.pos[0]), field: '(yaml)', message: e.message });
    for (const w of doc.warnings) warnings.push({ ...pos(w.pos[0]), field: '(yaml)', text: w.message });
  }
  const [first, second] = docs;
  if (second) {
    const at = second.contents?.range?.[0] ?? text.length;
    issues.push({ ...pos(at), field: '(yaml)', message: `expected one YAML document, found ${docs.length}` });
  }
  if (!first || issues.length > 0) return { value: undefined, map, issues, warnings };
  const ctx: WalkCtx = { pos, map, issues, budget: MAX_EXPANDED_NODES };
  walk(first, first.contents, [], undefined, ctx);
  if (issues.length > 0) return { value: undefined, map, issues, warnings };
  try {
    return { value: first.toJS({ maxAliasCount: MAX_EXPANDED_NODES }) as unknown, map, issues, warnings };
  } catch (err) {
    // The library's own alias cap, for expansions nested deeper than the walk goes.
    if (!(err instanceof ReferenceError)) throw err;
    issues.push({ ...map.root, field: '(yaml)', message: `${err.message} (nested aliases multiply)` });
    return { value: undefined, map, issues, warnings };
  }
}

/**
 * How many nodes a document may have once its aliases are expanded. Nested aliases multiply (a "billion laughs"
 * file of a few lines expands to millions of nodes, and walking them took minutes of CPU), so the walk counts
 * every node it visits and stops at this cap; a 1000-host inventory expands to well under it.
 */
export const MAX_EXPANDED_NODES = 100_000;

interface WalkCtx {
  pos: (offset: number) => Position;
  map: SourceMap;
  issues: InventoryIssue[];
  /** Nodes the walk may still visit; below zero, the walk has reported the alias bomb and stops. */
  budget: number;
}

function walk(
  doc: Document,
  raw: Node | null | undefined,
  path: Path,
  key: Position | undefined,
  ctx: WalkCtx,
  depth = 0,
  aliasAt?: Position,
): void {
  if (!raw || depth > 64 || ctx.budget < 0) return;
  if (--ctx.budget < 0) {
    ctx.issues.push({
      ...(aliasAt ?? key ?? ctx.map.root),
      field: formatPath(path) || '(yaml)',
      message: `aliases expand to more than ${MAX_EXPANDED_NODES} nodes (nested aliases multiply); refusing to expand further`,
    });
    return;
  }
  // The outermost alias being expanded is what an error about expansion should point at.
  if (!aliasAt && isAlias(raw) && raw.range) aliasAt = ctx.pos(raw.range[0]);
  const node = isAlias(raw) ? (raw.resolve(doc) ?? raw) : raw;
  const start = node.range?.[0];
  // An empty value (`key:`) has a zero-width range just after the colon; the key is the better place to point at.
  const empty = isScalar(node) && node.range && node.range[0] === node.range[1];
  const value = start === undefined || empty ? (key ?? ctx.map.root) : ctx.pos(start);
  ctx.map.set(path, key ? { value, key } : { value });
  if (isMap(node)) {
    const seen = new Map<string, Position>();
    for (const pair of node.items) {
      const k = pair.key as Node | null;
      const kPos = k?.range ? ctx.pos(k.range[0]) : value;
      // A merge key (`<<: *defaults`): its keys land in this map when converted; nothing to locate separately.
      if (isScalar(k) && typeof k.value === 'symbol') continue;
      if (
        !isScalar(k) ||
        (typeof k.value !== 'string' && typeof k.value !== 'number' && typeof k.value !== 'boolean')
      ) {
        ctx.issues.push({ ...kPos, field: formatPath(path) || '(yaml)', message: 'keys must be plain scalars' });
        continue;
      }
      const name = String(k.value);
      const before = seen.get(name);
      if (before) {
        ctx.issues.push({
          ...kPos,
          field: formatPath([...path, name]),
          message: `duplicate key (first set at line ${before.line})`,
        });
        continue;
      }
      seen.set(name, kPos);
      walk(doc, pair.value as Node | null, [...path, name], kPos, ctx, depth + 1, aliasAt);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => walk(doc, item as Node | null, [...path, i], undefined, ctx, depth + 1, aliasAt));
  }
}

export async function readYaml(file: string, opts: YamlOptions = {}): Promise<ParsedYaml> {
  return parseYaml(await readFile(file, 'utf8'), file, opts);
}
