// The benchmark's one table: every section (bench/sections/*) adds rows measured in the same `npm run bench` run;
// bench/run.ts writes them to bench/RESULTS.md (linked from the README) and prints them.
import type { Inventory } from '../src/inventory/schema.js';
import type { Lab } from '../lab/index.js';

export interface Row {
  /** What was measured. */
  metric: string;
  /** A figure with its unit, or a ratio ("21.3x"). */
  value: string;
  /** Target, method, or how to read it. */
  note?: string;
}

/** What every section gets: one lab and a dev server shared by the run. */
export interface BenchContext {
  lab: Lab;
  /** The lab's inventory cut to its first n hosts (loaded and checked as a user's file). */
  inventory(n: number): Promise<Inventory>;
  /** The run's dev server (start-dev, SQLite). */
  devAddress: string;
  /** Its process id, for its CPU time (bench/cpu.ts). */
  devPid?: number;
  log(line: string): void;
}

export interface Section {
  name: string;
  /** Lab hosts it needs (the run creates the largest). */
  hosts: number;
  run(ctx: BenchContext): Promise<Row[]>;
  /** What exactly its rows measure (printed under the table, one paragraph each). */
  explain?: string[];
}

export const ms = (x: number): string => `${x.toFixed(0)} ms`;
export const ratio = (x: number): string => `${x.toFixed(1)}x`;
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export function markdown(rows: Row[], header: string[], sections: Section[] = []): string {
  const lines = [
    ...header,
    '',
    '| metric | value | note |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.metric} | ${r.value} | ${r.note ?? ''} |`),
  ];
  const explained = sections.filter((s) => s.explain?.length);
  if (explained.length) lines.push('', '## What each row measures');
  for (const s of explained) lines.push('', `### ${s.name}`, '', ...s.explain!.flatMap((p, i) => (i ? ['', p] : [p])));
  return `${lines.join('\n')}\n`;
}

/**
 * A subset run (BENCH_ONLY) updates its own rows in the table of a full run and keeps the others: rows are matched by
 * metric, a new metric goes after its predecessor in the run, and the header gains a line saying which rows are newer.
 */
export function mergeMarkdown(existing: string, rows: Row[], note: string, sections: Section[]): string {
  const lines = existing.split('\n');
  const top = lines.indexOf('| metric | value | note |');
  if (top < 0) return markdown(rows, ['# kubeadm2ha benchmark', '', note], sections);
  const header = lines.slice(0, top);
  while (header.at(-1) === '') header.pop();
  const old: Row[] = [];
  for (const line of lines.slice(top + 2)) {
    const m = /^\| (.*?) \| (.*?) \| (.*) \|$/.exec(line);
    if (!m) break;
    old.push({ metric: m[1]!, value: m[2]!, ...(m[3] && { note: m[3] }) });
  }
  const fresh = new Map(rows.map((r) => [r.metric, r]));
  const merged = old.map((r) => fresh.get(r.metric) ?? r);
  // A metric the table did not have goes after the row that precedes it in this run (or at the end).
  rows.forEach((r, i) => {
    if (merged.includes(r)) return;
    const prev = i > 0 ? merged.indexOf(rows[i - 1]!) : -1;
    merged.splice(prev < 0 ? merged.length : prev + 1, 0, r);
  });
  const kind = note.slice(0, note.indexOf(':') + 1);
  return markdown(merged, [...header.filter((l) => !kind || !l.startsWith(kind)), note], sections);
}
