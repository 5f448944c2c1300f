// What activities need from the outside world, passed in by createActivities(deps) — never module singletons —
// so the worker wires real SSH and tests can wire anything that behaves the same.
import type { HostContext } from '../plan/types.js';

export interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Short human name of the action for errors and logs (never the command line: it may hold secrets). */
  action: string;
  timeoutMs?: number;
  /** Return non-zero exits instead of throwing CommandFailedError. */
  allowNonZero?: boolean;
  stdin?: string | Buffer;
}

/** A shell on one host. Scripts are POSIX sh; every interpolated value must go through ssh/quote. */
export interface RemoteShell {
  script(script: string, opts: RunOptions): Promise<ShellResult>;
}

export interface ActivityDeps {
  shell(ctx: HostContext): RemoteShell;
  /** Wall clock of the operator's side, for clock-skew checks. */
  now(): number;
}
