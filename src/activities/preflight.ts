// The preflight activity: run one read-only check on one host. Idempotent by nature (it changes nothing), quick,
// and retried by the workflow on transient SSH failures.
import type { CheckResult, CheckSpec, HostContext } from '../plan/types.js';
import type { ActivityDeps } from './deps.js';
import { parseFacts, probes } from './preflight-checks.js';
import { withFailures } from './failures.js';
import { ProbeBatcher } from './preflight-batch.js';

export interface RunCheckInput {
  host: HostContext;
  check: CheckSpec;
}

/** Probes batch only with others that would open the same session (same target, same SSH settings). */
const hostKey = ({ target, ssh }: HostContext): string => JSON.stringify([target, ssh]);

export function createPreflightActivities(deps: ActivityDeps) {
  // Probes for one host that start together share one remote shell (src/activities/preflight-batch.ts).
  const batcher = new ProbeBatcher();
  return {
    async runPreflightCheck({ host, check }: RunCheckInput): Promise<CheckResult> {
      return withFailures(async () => {
        const probe = probes[check.id];
        const session = deps.session(host);
        // The clock check is a host's first (src/plan/preflight.ts): open the connection before the clock starts, so
        // the skew's uncertainty is one command's round trip, not the handshake's.
        if (check.id === 'clock') await session.ready?.();
        const before = deps.now();
        const opts = { action: `preflight ${check.id}`, timeoutMs: 30_000 };
        const script = probe.script(check);
        // The clock probe measures skew around its own round trip: never batched.
        const out =
          check.id === 'clock'
            ? await session.run({ script }, opts)
            : await batcher.run(hostKey(host), session, script, opts);
        const after = deps.now();
        const facts = parseFacts(out.stdout);
        const ns = facts.get('epochNs')?.[0];
        // The host read its clock somewhere inside [before, after]; assume the middle, and tell the verdict how wide.
        const clock = ns
          ? { skewMs: Number(BigInt(ns) / 1_000_000n) - (before + after) / 2, roundTripMs: after - before }
          : {};
        const verdict = probe.evaluate(facts, check, { raw: out.stdout, ...clock });
        return { host: host.target.name, check: check.id, ...verdict };
      });
    },
  };
}
