// What a format reader hands to validation: the plain object, where each part of it came from, and the problems
// the reader already found (syntax, Ansible group errors). Validation adds the schema's and the rules' problems.
import type { InventoryIssue, InventoryWarning } from './errors.js';
import type { Path, SourceMap } from './locate.js';

export interface LoadedSource {
  format: 'yaml' | 'ansible';
  /** The main file: our YAML, or the INI inventory. */
  file: string;
  /** Undefined when the files could not be parsed at all. */
  value: unknown;
  map: SourceMap;
  issues: InventoryIssue[];
  warnings: InventoryWarning[];
  sourceFiles: string[];
  /**
   * Some files could not be read (syntax errors, broken group graph), so the object lacks parts the user did
   * write: "missing" errors and the rules that count hosts would only repeat the real problem, and are skipped.
   */
  partial?: boolean;
  /** Paths whose problem the reader has reported already. */
  suppressed?: Path[];
}
