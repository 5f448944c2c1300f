// How every operation workflow begins: tag the run for search (cluster, operation, Kubernetes version) so
// `kubeadm2ha status` and the Web UI find it, and serve per-host progress from the first workflow task on.
import { setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { runDetails } from '../plan/run-details.js';
import type { HostPlan } from '../plan/types.js';
import { ClusterName, KubernetesVersion, Operation } from '../temporal/search-attributes.js';
import { progressQuery } from './messages.js';
import { ProgressTracker } from './progress.js';

export interface OperationPlan {
  cluster: string;
  kubernetesVersion: string;
  hosts: HostPlan<{ id: string; title: string }>[];
}

export function beginOperation(operation: string, title: string, plan: OperationPlan): ProgressTracker {
  upsertSearchAttributes([
    { key: ClusterName, value: plan.cluster },
    { key: Operation, value: operation },
    { key: KubernetesVersion, value: plan.kubernetesVersion },
  ]);
  return trackProgress(title, plan);
}

/** Serve per-host progress without tagging the run for search: a child workflow working for an operation. */
export function trackProgress(title: string, plan: OperationPlan): ProgressTracker {
  const progress = new ProgressTracker(title, plan.cluster, plan.hosts);
  setHandler(progressQuery, () => progress.snapshot());
  // The Web UI's view of the run: phase, hosts through, what waits for a person and how to answer.
  progress.onChange = (p) => setCurrentDetails(runDetails(p));
  setCurrentDetails(runDetails(progress.snapshot()));
  return progress;
}
