// The inventory of a setup-workflow cluster on the real-Kubernetes lab: h1 primary master, h2 secondary master, the
// rest workers, every host an external etcd member, plus the lab-only settings (lab/k8s/README.md). The workflow
// checks its input with the inventory rules, which refuse pod and Service ranges inside the hosts' subnet: so the
// hosts' subnet is declared as the lower /25 (hosts .11+, VIP .100), pods keep the lab's /28s (.128/26 for 3 hosts)
// and Services take .240/28, all still inside the lab's own /24.
import type { K8sLab } from '../../lab/k8s/k8s-lab.js';
import { Inventory, type InventoryInput } from '../../src/inventory/schema.js';

export function labClusterInventory(lab: K8sLab, cluster: Partial<InventoryInput['cluster']> = {}): Inventory {
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
        roles:
          h.index === 1
            ? ['primary-master', 'etcd']
            : h.index === 2
              ? ['secondary-master', 'etcd']
              : ['worker', 'etcd'],
      })),
    }),
  );
}
