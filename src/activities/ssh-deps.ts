// Real activity dependencies: one SSH pool per distinct SSH settings (normally one per inventory), shared by every
// activity this worker runs, so a host keeps one connection across all the steps of all the workflows. Trust
// (host-key policy, known_hosts, keys, ssh config) is the worker's own (./ssh-trust.ts); the input only plans.
import { SshPool, type SshPoolOptions } from '../ssh/index.js';
import type { SshSettings } from '../inventory/schema.js';
import { currentCancellationSignal } from './activity-context.js';
import type { ActivityDeps } from './deps.js';
import { DEFAULT_SSH_TRUST, trustedTarget, withTrust, type SshTrust } from './ssh-trust.js';

export function createSshDeps(
  trust: SshTrust = DEFAULT_SSH_TRUST,
  poolOptions: SshPoolOptions = {},
): ActivityDeps & { close(): Promise<void> } {
  const pools = new Map<string, SshPool>();
  const poolFor = (input: SshSettings): SshPool => {
    const settings = withTrust(input, trust);
    const key = JSON.stringify(settings);
    let pool = pools.get(key);
    if (!pool) {
      // A cancelled activity (or one whose heartbeat timed out) kills the remote command it was waiting on.
      pool = new SshPool(settings, { cancellation: currentCancellationSignal, ...poolOptions });
      pools.set(key, pool);
    }
    return pool;
  };
  return {
    session: ({ target, ssh }) => poolFor(ssh).session(trustedTarget(target, trust)),
    now: () => Date.now(),
    async close() {
      await Promise.all([...pools.values()].map((p) => p.closeAll()));
      pools.clear();
    },
  };
}
