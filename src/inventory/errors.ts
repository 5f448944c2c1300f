// What an inventory problem looks like, and the one error that carries all of them.
// Every issue names the file, line, column and field it is about, so a user fixes everything in one pass:
// `cluster.yaml:12:5 hosts[2].address: expected an IPv4 address or a DNS name`.
import { InvalidInputError } from '../errors.js';

export interface InventoryIssue {
  file: string;
  line: number;
  column: number;
  /** The field as the user wrote it: a schema path (`hosts[2].address`) or, for Ansible, the variable name. */
  field: string;
  message: string;
}

/** A problem that does not stop us; the location is there whenever we know it. */
export interface InventoryWarning {
  text: string;
  file?: string;
  line?: number;
  column?: number;
  field?: string;
}

export function formatIssue(i: InventoryIssue): string {
  return `${i.file}:${i.line}:${i.column} ${i.field ? `${i.field}: ` : ''}${i.message}`;
}

export function formatWarning(w: InventoryWarning): string {
  const where = w.file ? `${w.file}${w.line ? `:${w.line}:${w.column ?? 1}` : ''} ` : '';
  return `${where}${w.field ? `${w.field}: ` : ''}${w.text}`;
}

/** Order issues as a reader walks the files: by file, then line, then column. */
export function sortIssues<T extends { file?: string; line?: number; column?: number }>(list: T[]): T[] {
  return [...list].sort(
    (a, b) =>
      (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0),
  );
}

/** Thrown when an inventory cannot be used. Holds every problem found, not just the first. */
export class InventoryError extends InvalidInputError {
  readonly issues: InventoryIssue[];
  constructor(
    issues: InventoryIssue[],
    readonly warnings: InventoryWarning[] = [],
  ) {
    const sorted = sortIssues(issues);
    const n = sorted.length;
    super(
      `inventory is invalid (${n} problem${n === 1 ? '' : 's'}):\n${sorted.map((i) => `  ${formatIssue(i)}`).join('\n')}`,
    );
    this.issues = sorted;
  }
}
