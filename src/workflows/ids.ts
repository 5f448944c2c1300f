// The workflow-id scheme: one running operation of a kind per cluster. Temporal allows one open workflow per id,
// so two upgrades (or a preflight and another preflight) of the same cluster can never overlap.
export const DEFAULT_TASK_QUEUE = 'kubeadm2ha';

export type Operation = 'preflight' | 'setup' | 'upgrade' | 'uninstall' | 'images' | 'addons' | 'local-access' | 'certs';

export function workflowIdFor(cluster: string, operation: Operation): string {
  return `${cluster}/${operation}`;
}
