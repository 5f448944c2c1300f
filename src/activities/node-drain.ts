// Draining a node for an upgrade, and handing it back. The seed's playbook drained without a deadline, so a
// PodDisruptionBudget that never allows an eviction hung the run, and a failed drain left the node cordoned. Here:
//  - `kubectl drain --timeout` evicts through the Eviction API (so budgets are honoured) and gives up at a deadline;
//  - a drain that fails puts the node back as it found it (uncordoned unless it was cordoned before), so no failure
//    leaves a node cordoned, whatever the operator decides next;
//  - when budgets are what held the pods, the failure is DrainBlocked (not retried by Temporal) and names each
//    budget and its pods: the decision gate then offers wait longer (retry), evict anyway (retry with
//    disableEviction: pods are deleted, budgets not consulted) or skip the node.
// Node names are the inventory's host names (setup registers nodes under them).
import { FailureType, KubeadmHaError } from '../errors.js';
import {
  blockingBudgets,
  describeBlocking,
  podsToMove,
  type PdbObject,
  type PodObject,
} from '../plan/disruption-budgets.js';
import type { HostContext } from '../plan/types.js';
import { redactedTail } from '../ssh/redact.js';
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
  /** Per-pod termination grace (kubectl drain --grace-period); default the pods' own. */
  gracePeriodSeconds?: number;
}

export interface DrainNodeResult {
  node: string;
  /** Was the node cordoned before this drain (then it stays cordoned when the drain fails). */
  wasCordoned: boolean;
  /** namespace/name of the pods the drain moved. */
  moved: string[];
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
  const { run, kubectl } = createKubectl(deps, opts);
  const check = (node: string): void => {
    if (!nodeName.test(node) || node.length > 253)
      throw new KubeadmHaError(`invalid node name ${node}`, FailureType.InvalidInput);
  };
  const cordoned = async (via: HostContext, cluster: string, node: string): Promise<boolean> =>
    (await kubectl({ via, cluster, args: ['get', 'node', node, '-o', 'jsonpath={.spec.unschedulable}'] })).trim() ===
    'true';
  const podsOn = async (via: HostContext, cluster: string, node: string): Promise<PodObject[]> =>
    (
      JSON.parse(
        await kubectl({
          via,
          cluster,
          args: ['get', 'pods', '-A', '--field-selector', `spec.nodeName=${node}`, '-o', 'json'],
        }),
      ) as { items: PodObject[] }
    ).items;

  return {
    /** Cordon and drain `node` within `timeoutSeconds`; DrainBlocked (node restored) when budgets hold pods. */
    async drainNode(input: DrainNodeInput): Promise<DrainNodeResult> {
      return withFailures(async () => {
        const { via, cluster, node, timeoutSeconds } = input;
        check(node);
        const t0 = deps.now();
        const wasCordoned = await cordoned(via, cluster, node);
        const before = podsToMove(await podsOn(via, cluster, node)).map(
          (p) => `${p.metadata.namespace}/${p.metadata.name}`,
        );
        const args = [
          'drain',
          node,
          '--ignore-daemonsets',
          '--delete-emptydir-data',
          `--timeout=${timeoutSeconds}s`,
          ...(input.disableEviction ? ['--disable-eviction'] : []),
          ...(input.gracePeriodSeconds !== undefined ? [`--grace-period=${input.gracePeriodSeconds}`] : []),
        ];
        // kubectl's own deadline plus a margin for the API calls around it.
        const r = await keepAlive(run({ via, cluster, args, timeoutSeconds: timeoutSeconds + 60 }, true), {
          node,
          step: 'drain',
        });
        if (r.code === 0) {
          return {
            node,
            wasCordoned,
            moved: before,
            evictionDisabled: input.disableEviction ?? false,
            elapsedMs: deps.now() - t0,
          };
        }
        // Failed: find out why while the pods are still where the drain left them, then give the node back.
        const left = await podsOn(via, cluster, node);
        const budgets = (
          JSON.parse(await kubectl({ via, cluster, args: ['get', 'pdb', '-A', '-o', 'json'] })) as {
            items: PdbObject[];
          }
        ).items;
        // kubectl's words for an eviction the API refused because of a budget (it retries those until --timeout).
        const refused = /disruption budget/i.test(r.stderr);
        const blocking = blockingBudgets(left, budgets, refused);
        if (!wasCordoned) await kubectl({ via, cluster, args: ['uncordon', node] });
        const restored = wasCordoned ? 'it was cordoned before and stays so' : `${node} uncordoned again`;
        if (blocking.length) {
          throw new KubeadmHaError(
            `${describeBlocking(node, blocking)}; gave up after ${timeoutSeconds} s, ${restored}`,
            FailureType.DrainBlocked,
            node,
          );
        }
        throw new KubeadmHaError(
          `kubectl drain: exit ${r.code ?? 'signal'} (${redactedTail(r.stderr)}); ${restored}`,
          FailureType.CommandFailed,
          node,
        );
      });
    },

    /** Make `node` schedulable; a no-op when it is (idempotent, so it serves as a drain's undo and after a skip). */
    async uncordonNode({ via, cluster, node }: UncordonInput): Promise<{ node: string; changed: boolean }> {
      return withFailures(async () => {
        check(node);
        if (!(await cordoned(via, cluster, node))) return { node, changed: false };
        await kubectl({ via, cluster, args: ['uncordon', node] });
        return { node, changed: true };
      });
    },

    /** Cordon `node` without draining it; a no-op when it is cordoned. */
    async cordonNode({ via, cluster, node }: UncordonInput): Promise<{ node: string; changed: boolean }> {
      return withFailures(async () => {
        check(node);
        if (await cordoned(via, cluster, node)) return { node, changed: false };
        await kubectl({ via, cluster, args: ['cordon', node] });
        return { node, changed: true };
      });
    },
  };
}
