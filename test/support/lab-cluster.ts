// The inventory of a kubeadm cluster on the real-Kubernetes lab with its static per-host pod routes (no pod network
// to install; setup-run.ts has the flannel one), for tests that run our workflows on it (setup, drain, addons): the
// lab registry, mirror and version plus the lab-only settings (see lab/k8s/README.md).
// The workflows check their input with the inventory rules, which refuse pod and Service ranges inside the hosts'
// subnet: so the hosts' subnet is declared as the lower /25 (hosts .11+, VIP .100), pods keep the lab's /28s
// (.128/26 for up to 4 hosts) and Services take .240/28, all still inside the lab's own /24.
import { Inventory, type InventoryInput, type Role } from '../../src/inventory/schema.js';
import type { K8sLab } from '../../lab/k8s/k8s-lab.js';

/** h1 primary master, h2 secondary master, the rest workers, every host an external etcd member. */
const defaultRoles = (index: number): Role[] =>
  index === 1 ? ['primary-master', 'etcd'] : index === 2 ? ['secondary-master', 'etcd'] : ['worker', 'etcd'];

/** Four hosts: two masters (keepalived's unicast VRRP needs a peer) and two workers, etcd on the first three. */
export const TWO_MASTERS_TWO_WORKERS: Role[][] = [
  ['primary-master', 'etcd'],
  ['secondary-master', 'etcd'],
  ['worker', 'etcd'],
  ['worker'],
];

/** `roles[i]` are the roles of host h<i+1> (default: defaultRoles); `cluster` overrides cluster settings. */
export function labClusterInventory(
  lab: K8sLab,
  roles?: Role[][],
  cluster: Partial<InventoryInput['cluster']> = {},
): Inventory {
  const k = lab.kubernetes;
  return Inventory.parse(
    lab.inventory({
      cluster: {
        vip: { address: lab.vip, interface: 'eth0', prefixLength: 25 },
        podSubnet: `10.200.${lab.id}.128/26`,
        serviceSubnet: `10.200.${lab.id}.240/28`,
        network: { plugin: 'none' },
        nodeCidrMaskSize: 28,
        containerRuntime: {
          cgroupDriver: 'cgroupfs',
          restrictOomScoreAdj: true,
          registries: [{ host: k.registry, endpoints: [`http://${k.registry}`] }],
        },
        kubeProxy: { conntrackMaxPerCore: 0 },
        ...cluster,
      },
      hosts: lab.hosts.map((h) => ({
        name: h.name,
        address: h.address,
        roles: roles ? (roles[h.index - 1] ?? []) : defaultRoles(h.index),
      })),
    }),
  );
}
