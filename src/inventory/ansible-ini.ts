// Reads an Ansible INI inventory the way Ansible's `ini` inventory plugin does: `[group]` host lines with
// key=value host variables, `[group:children]`, `[group:vars]`, host ranges (`node[01:03]`) and `host:port`.
// Values are typed like Ansible's literal_eval (2222 → number, True → boolean), keeping the raw text for messages.
// Only the syntax is checked here; group semantics (cycles, undefined groups, roles) are ansible-groups.ts's.
import type { InventoryIssue, InventoryWarning } from './errors.js';
import type { Position, Site } from './locate.js';

export interface IniVar {
  name: string;
  value: unknown;
  /** The text as written, for messages and for string fields (`1.30` is a float to Ansible, "1.30" to us). */
  raw: string;
  site: Site;
}

export interface IniHostLine {
  name: string;
  site: Site;
  vars: IniVar[];
}

export interface IniGroup {
  name: string;
  /** Where the group is declared (`[name]` or `[name:children]`); undefined while only referenced. */
  declared?: Position;
  hosts: IniHostLine[];
  children: { name: string; site: Site }[];
  vars: IniVar[];
  /** `[name:vars]` headers, kept to report vars for a group that is never declared. */
  varsHeaders: Position[];
}

export interface IniInventory {
  file: string;
  groups: Map<string, IniGroup>;
  /** Host names in first-seen order (Ansible's order for `groups[...]`). */
  hostOrder: string[];
  issues: InventoryIssue[];
  warnings: InventoryWarning[];
}

interface Token {
  text: string;
  /** 0-based column where the token starts. */
  start: number;
}

/** Split like Python's shlex with comments: whitespace separates, quotes group, `#` at a token start ends the line. */
export function tokenize(line: string): Token[] | { error: string; column: number } {
  const out: Token[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i] ?? '')) i++;
    if (i >= line.length || line[i] === '#') break;
    const start = i;
    let text = '';
    while (i < line.length && !/\s/.test(line[i] ?? '')) {
      const ch = line[i] ?? '';
      if (ch === '"' || ch === "'") {
        const end = line.indexOf(ch, i + 1);
        if (end < 0) return { error: `unterminated ${ch} quote`, column: i };
        text += line.slice(i + 1, end);
        i = end + 1;
      } else {
        text += ch;
        i++;
      }
    }
    out.push({ text, start });
  }
  return out;
}

/** Ansible's _parse_value: Python literals become typed values, anything else stays the string. */
export function parseValue(raw: string): unknown {
  const s = raw.trim();
  if (/^[-+]?(0|[1-9]\d*)$/.test(s)) return Number(s);
  if (/^[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s);
  if (s === 'True') return true;
  if (s === 'False') return false;
  if (s === 'None') return null;
  const q = /^(['"])(.*)\1$/.exec(s);
  if (q) return (q[2] ?? '').replace(/\\(.)/g, '$1');
  return s;
}

/** `web[01:03]` → web01, web02, web03; `db-[a:c]` → db-a, db-b, db-c. */
export function expandHostPattern(pattern: string): string[] | { error: string } {
  const m = /^(.*?)\[([^\]:]+):([^\]:]+)(?::(\d+))?\](.*)$/.exec(pattern);
  if (!m) return [pattern];
  const [, head = '', from = '', to = '', step = '1', tail = ''] = m;
  const names: string[] = [];
  if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
    const width = from.length;
    for (let n = Number(from); n <= Number(to); n += Number(step) || 1) names.push(String(n).padStart(width, '0'));
  } else if (/^[a-z]$/i.test(from) && /^[a-z]$/i.test(to)) {
    for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c += Number(step) || 1) names.push(String.fromCharCode(c));
  } else return { error: `host range [${from}:${to}] must be numbers or single letters` };
  if (names.length === 0) return { error: `host range [${from}:${to}] is empty` };
  const out: string[] = [];
  for (const n of names) {
    const rest = expandHostPattern(`${head}${n}${tail}`);
    if (!Array.isArray(rest)) return rest;
    out.push(...rest);
  }
  return out;
}

export function parseIni(text: string, file: string): IniInventory {
  const inv: IniInventory = { file, groups: new Map(), hostOrder: [], issues: [], warnings: [] };
  const at = (line: number, col0: number): Position => ({ file, line, column: col0 + 1 });
  const issue = (line: number, col0: number, field: string, message: string): void => {
    inv.issues.push({ ...at(line, col0), field, message });
  };
  const group = (name: string): IniGroup => {
    let g = inv.groups.get(name);
    if (!g) inv.groups.set(name, (g = { name, hosts: [], children: [], vars: [], varsHeaders: [] }));
    return g;
  };
  const seenHosts = new Set<string>();
  group('all').declared = at(1, 0);
  group('ungrouped').declared = at(1, 0);
  let current = group('ungrouped');
  let state: 'hosts' | 'children' | 'vars' | 'skip' = 'hosts';

  text.split(/\r?\n/).forEach((rawLine, i) => {
    const lineNo = i + 1;
    const indent = rawLine.length - rawLine.trimStart().length;
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    if (line.startsWith('[')) {
      const m = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$/.exec(line);
      // After a bad header its lines are skipped: read as part of the previous section they would only add noise.
      state = 'skip';
      if (!m)
        return issue(
          lineNo,
          indent,
          line,
          'invalid section header: expected [group], [group:children] or [group:vars]',
        );
      const [, name = '', kind = 'hosts'] = m;
      if (kind !== 'hosts' && kind !== 'children' && kind !== 'vars') {
        group(name).declared ??= at(lineNo, indent);
        return issue(lineNo, indent, `[${name}:${kind}]`, `unknown section type "${kind}" (use :children or :vars)`);
      }
      state = kind;
      current = group(name);
      if (kind === 'vars') current.varsHeaders.push(at(lineNo, indent));
      else current.declared ??= at(lineNo, indent);
      return;
    }
    if (state === 'skip') return;
    if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq <= 0) return issue(lineNo, indent, `[${current.name}:vars]`, `expected key=value, got "${line}"`);
      const name = line.slice(0, eq).trim();
      const rest = line.slice(eq + 1);
      const raw = rest.trim();
      const valueCol = indent + eq + 1 + (rest.length - rest.trimStart().length);
      current.vars.push({
        name,
        value: parseValue(raw),
        raw,
        site: { key: at(lineNo, indent), value: at(lineNo, valueCol), alias: name },
      });
      return;
    }
    const tokens = tokenize(rawLine);
    if (!Array.isArray(tokens)) return issue(lineNo, tokens.column, `[${current.name}]`, tokens.error);
    const [head, ...rest] = tokens;
    if (!head) return;
    if (state === 'children') {
      if (rest.length)
        return issue(
          lineNo,
          rest[0]?.start ?? indent,
          `[${current.name}:children]`,
          `expected one group name per line, got "${line}"`,
        );
      current.children.push({
        name: head.text,
        site: { value: at(lineNo, head.start), alias: `[${current.name}:children] ${head.text}` },
      });
      group(head.text);
      return;
    }
    const vars: IniVar[] = [];
    for (const t of rest) {
      const eq = t.text.indexOf('=');
      if (eq <= 0) return issue(lineNo, t.start, head.text, `expected key=value host variable, got "${t.text}"`);
      const name = t.text.slice(0, eq);
      const raw = t.text.slice(eq + 1);
      vars.push({
        name,
        value: parseValue(raw),
        raw,
        site: { key: at(lineNo, t.start), value: at(lineNo, t.start + eq + 1), alias: `${head.text} ${name}` },
      });
    }
    let pattern = head.text;
    const port = /^([^:[\]]+):(\d+)$/.exec(pattern);
    if (port) {
      pattern = port[1] ?? pattern;
      const col = head.start + pattern.length + 1;
      vars.unshift({
        name: 'ansible_port',
        value: Number(port[2]),
        raw: port[2] ?? '',
        site: { value: at(lineNo, col), alias: `${pattern} ansible_port` },
      });
    }
    const names = expandHostPattern(pattern);
    if (!Array.isArray(names)) return issue(lineNo, head.start, head.text, names.error);
    for (const name of names) {
      if (current.hosts.some((h) => h.name === name))
        inv.warnings.push({
          ...at(lineNo, head.start),
          field: name,
          text: `host "${name}" is listed twice in [${current.name}]`,
        });
      const hostVars = vars.map((v) => ({ ...v, site: { ...v.site, alias: v.site.alias?.replace(pattern, name) } }));
      current.hosts.push({ name, site: { value: at(lineNo, head.start), alias: name }, vars: hostVars });
      if (!seenHosts.has(name)) {
        seenHosts.add(name);
        inv.hostOrder.push(name);
      }
    }
  });
  return inv;
}
