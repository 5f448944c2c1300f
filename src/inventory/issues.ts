// zod issues → located InventoryIssues. zod knows *what* is wrong and *where in the object*; the SourceMap knows
// where that is in the files. Messages are rewritten to say what was found and what is allowed, because the raw
// zod text ("Invalid input") does not help someone editing an inventory.
import type { z } from 'zod';
import type { InventoryIssue } from './errors.js';
import { formatPath, type Path, type SourceMap } from './locate.js';

type ZodIssue = z.core.$ZodIssue;

export function valueAt(root: unknown, path: Path): unknown {
  let cur = root;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

/** Follow wrappers (default, prefault, optional, pipe) down to the schema that describes the value's shape. */
function unwrap(schema: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  let s = schema;
  for (let i = 0; s && i < 10; i++) {
    const def = s._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else break;
  }
  return s;
}

/** The keys an object schema at `path` accepts, for "did you mean" hints. */
export function allowedKeys(schema: z.core.$ZodType, path: Path): string[] {
  let s = unwrap(schema);
  for (const p of path) {
    const def = s?._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType };
    if (!def) return [];
    if (def.type === 'object' && typeof p === 'string') s = unwrap(def.shape?.[p]);
    else if (def.type === 'array') s = unwrap(def.element);
    else return [];
  }
  const def = s?._zod.def as { type: string; shape?: Record<string, unknown> } | undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

/** Levenshtein distance, for suggesting the key or group the user probably meant. */
export function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] ?? 0;
      row[j] = Math.min(cur + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] ?? 0;
}

export function closest(word: string, candidates: readonly string[], max = 2): string | undefined {
  let best: string | undefined;
  let bestD = max + 1;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

const show = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return typeof v;
};

const kind = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v === 'object' ? 'map' : typeof v;

function describe(issue: ZodIssue, input: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected === 'object' ? 'a map' : issue.expected === 'array' ? 'a list' : issue.expected === 'int' ? 'a whole number' : `a ${issue.expected}`}, got ${kind(input)}${typeof input === 'object' ? '' : ` ${show(input)}`}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => String(v)).join(', ')}; got ${show(input)}`;
    case 'invalid_format': {
      const what: Record<string, string> = {
        ipv4: 'an IPv4 address',
        cidrv4: 'an IPv4 CIDR like 10.244.0.0/16',
        url: 'a URL',
      };
      const custom = !issue.message.startsWith('Invalid');
      return `${custom ? issue.message : `expected ${what[issue.format] ?? issue.format}`}; got ${show(input)}`;
    }
    case 'too_small':
    case 'too_big': {
      if (!issue.message.startsWith('Too')) return issue.message;
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const op = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      if (issue.origin === 'string')
        return issue.code === 'too_small' ? 'must not be empty' : `must be at most ${bound} characters`;
      if (issue.origin === 'array')
        return `expected ${op} ${bound} items, got ${Array.isArray(input) ? input.length : 0}`;
      return `expected a number ${op} ${bound}; got ${show(input)}`;
    }
    case 'invalid_union': {
      if (typeof input !== 'string')
        return `expected a string, got ${kind(input)}${typeof input === 'object' ? '' : ` ${show(input)}`}`;
      // Each branch's message is half the truth ("Invalid IPv4 address"); a branch with our own message says it all.
      const own = issue.errors.flat().find((e) => !e.message.startsWith('Invalid'));
      return `${own?.message ?? 'invalid value'}; got ${show(input)}`;
    }
    default: {
      const scalar = typeof input === 'string' || typeof input === 'number' || typeof input === 'boolean';
      return scalar ? `${issue.message}; got ${show(input)}` : issue.message;
    }
  }
}

export function zodIssuesToInventoryIssues(
  zodIssues: readonly ZodIssue[],
  raw: unknown,
  map: SourceMap,
  schema: z.core.$ZodType,
  opts: { skipMissing?: boolean; suppressed?: readonly Path[] } = {},
): InventoryIssue[] {
  const out: InventoryIssue[] = [];
  const under = (path: Path, prefix: Path): boolean =>
    prefix.length <= path.length && prefix.every((p, i) => path[i] === p);
  for (const issue of zodIssues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (opts.suppressed?.some((s) => under(path, s))) continue;
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(schema, path);
      for (const k of issue.keys) {
        const at = map.key([...path, k]);
        const guess = closest(k, allowed);
        const hint = guess
          ? ` (did you mean "${guess}"?)`
          : allowed.length
            ? ` (allowed here: ${allowed.join(', ')})`
            : '';
        out.push({ ...at, message: `unknown key "${k}"${hint}` });
      }
      continue;
    }
    const input = valueAt(raw, path);
    if (input === undefined && path.length > 0) {
      if (opts.skipMissing) continue;
      const at = map.missing(path);
      const { hint, ...pos } = at;
      out.push({
        ...pos,
        message:
          hint ??
          `missing required key "${String(path[path.length - 1])}" in ${formatPath(path.slice(0, -1)) || 'the top level'}`,
      });
      continue;
    }
    out.push({ ...map.value(path), message: describe(issue, input) });
  }
  return out;
}
