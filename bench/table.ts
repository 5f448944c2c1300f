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
