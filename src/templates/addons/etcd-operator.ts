// The seed's etcd-operator.yaml deployed CoreOS's etcd-operator, archived in 2020. Its successor, etcd-io's
// etcd-operator, is alpha (v0.x, API operator.etcd.io/v1alpha1) and manages etcd clusters that run as pods inside
// Kubernetes — not the external etcd on dedicated hosts that this tool sets up, backs up, restores and renews
// (`kubeadm2ha etcd …`). Offering an alpha operator for pods-etcd next to that would be two owners for one job, so
// the addon is listed as retired, with this reason, and renders nothing.
import type { AddonTemplate } from './types.js';

export const etcdOperator: AddonTemplate = {
  name: 'etcd-operator',
  version: '-',
  status: 'retired',
  description: 'etcd clusters as pods, managed by an operator',
  replaces: "the seed's CoreOS etcd-operator (archived upstream in 2020)",
  retiredBecause:
    'its successor etcd-io/etcd-operator is alpha (v1alpha1) and runs etcd as pods; this cluster runs external ' +
    'etcd on dedicated hosts, set up, backed up, restored and renewed by `kubeadm2ha etcd`',
  images: [],
  render() {
    return [];
  },
};
