// The workflow-id scheme. Temporal allows one open workflow per id, and that is the lock:
//  - operations that change the whole cluster (setup, upgrade, uninstall) share ONE id per cluster,
//    `<cluster>/cluster-change`, so a second one of any of them cannot start while one runs: the start fails
//    atomically in the server, with no window between a check and a start. The CLI then names the running one
//    (its workflow type and Operation search attribute say which it is: src/cli/operation.ts);
//  - every other operation has its own id, `<cluster>/<operation>`: two preflights never overlap, but a preflight or
//    a certificate check may run beside a setup.
// A new cluster-changing operation joins `clusterChanges` and gets the shared id from workflowIdFor; nothing else.
export const DEFAULT_TASK_QUEUE = 'kubeadm2ha';

export const operations = [
  'preflight',
  'etcd',
  'setup',
  'upgrade',
  'uninstall',
  'images',
  'addons',
  'local-access',
  'certs',
] as const;

export type Operation = (typeof operations)[number];

/** Operations of which at most one runs per cluster at a time. */
export const clusterChanges: readonly Operation[] = ['setup', 'upgrade', 'uninstall'];

export function isOperation(value: string): value is Operation {
  return (operations as readonly string[]).includes(value);
}

export function workflowIdFor(cluster: string, operation: Operation): string {
  return clusterChanges.includes(operation) ? `${cluster}/cluster-change` : `${cluster}/${operation}`;
}
