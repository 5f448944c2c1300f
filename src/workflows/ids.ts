// The workflow-id scheme: one running operation of a kind per cluster. Temporal allows one open workflow per id,
// so two upgrades (or a preflight and another preflight) of the same cluster can never overlap.
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

export function isOperation(value: string): value is Operation {
  return (operations as readonly string[]).includes(value);
}

export function workflowIdFor(cluster: string, operation: Operation): string {
  return `${cluster}/${operation}`;
}
