// Real activity dependencies: one SSH pool per distinct SSH settings (normally one per inventory), shared by every
// activity this worker runs, so a host keeps one connection across all the steps of all the workflows.
import { SshPool } from '../ssh/index.js';
import type { SshSettings } from '../inventory/schema.js';
import type { ActivityDeps } from './deps.js';

export function createSshDeps(): ActivityDeps & { close(): Promise<void> } {
  const pools = new Map<string, SshPool>();
  const poolFor = (ssh: SshSettings): SshPool => {
    const key = JSON.stringify(ssh);
    let pool = pools.get(key);
    if (!pool) {
      pool = new SshPool(ssh);
      pools.set(key, pool);
    }
    return pool;
  };
  return {
    session: ({ target, ssh }) => poolFor(ssh).session(target),
    now: () => Date.now(),
    async close() {
      await Promise.all([...pools.values()].map((p) => p.closeAll()));
      pools.clear();
    },
  };
}
