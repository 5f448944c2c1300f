// Draining a node for an upgrade, and handing it back: `kubectl drain --timeout` evicts through the Eviction API
// (PodDisruptionBudgets honoured) and gives up at a deadline instead of hanging the run; uncordon is idempotent and
// is the drain's undo, so a failure never leaves a node cordoned. The PDB-aware drain with its own decisions (wait
// longer, evict anyway, skip) replaces this module with the same activities and inputs.
// Node names are the inventory's host names (setup registers nodes under them).
import { FailureType, KubeadmHaError } from '../errors.js';
import type { HostContext } from '../plan/types.js';
import { keepAlive } from './activity-context.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { createKubectl, type KubeApiOptions } from './kube-api.js';

export interface DrainNodeInput {
  /** A master to run kubectl on (through the cluster endpoint, with the stored admin kubeconfig). */
  via: HostContext;
  cluster: string;
  node: string;
  /** kubectl drain --timeout: how long evictions may take before the drain gives up. */
  timeoutSeconds: number;
  /** Delete pods instead of evicting them (kubectl drain --disable-eviction): budgets are NOT honoured. */
  disableEviction?: boolean;
}

export interface DrainNodeResult {
  node: string;
  evictionDisabled: boolean;
  elapsedMs: number;
}

export interface UncordonInput {
  via: HostContext;
  cluster: string;
  node: string;
}

const nodeName = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function createNodeDrainActivities(deps: ActivityDeps, opts: KubeApiOptions = {}) {
  const { kubectl } = createKubectl(deps, opts);
  const check = (node: string): void => {
    if (!nodeName.test(node) || node.length > 253)
      throw new KubeadmHaError(`invalid node name ${node}`, FailureType.InvalidInput);
  };
  return {
    async drainNode(input: DrainNodeInput): Promise<DrainNodeResult> {
      return withFailures(async () => {
        const { via, cluster, node, timeoutSeconds } = input;
        check(node);
        const t0 = deps.now();
        const args = [
          'drain',
          node,
          '--ignore-daemonsets',
          '--delete-emptydir-data',
          `--timeout=${timeoutSeconds}s`,
          ...(input.disableEviction ? ['--disable-eviction'] : []),
        ];
        // kubectl's own deadline plus a margin for the API calls around it.
        await keepAlive(kubectl({ via, cluster, args, timeoutSeconds: timeoutSeconds + 60 }), { node, step: 'drain' });
        return { node, evictionDisabled: input.disableEviction ?? false, elapsedMs: deps.now() - t0 };
      });
    },

    /** Make `node` schedulable (idempotent, so it serves as a drain's undo and after a skip). */
    async uncordonNode({ via, cluster, node }: UncordonInput): Promise<{ node: string }> {
      return withFailures(async () => {
        check(node);
        await kubectl({ via, cluster, args: ['uncordon', node] });
        return { node };
      });
    },
  };
}
