// What activities need from the outside world, passed in by createActivities(deps) — never module singletons —
// so the worker wires real SSH and tests can wire anything that behaves the same.
import type { HostContext } from '../plan/types.js';
import type { HostSession } from '../ssh/index.js';

export interface ActivityDeps {
  /** A session on the host, over the worker's pooled SSH connection for these settings. */
  session(ctx: HostContext): HostSession;
  /** Wall clock of the operator's side, for clock-skew checks. */
  now(): number;
}
