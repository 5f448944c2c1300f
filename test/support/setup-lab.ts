// The inventory the setup and uninstall workflow tests give the real-Kubernetes lab: h1 primary master, h2 secondary
// master, h3 worker, external etcd on all three, VIP and haproxy, the lab's own CNI (network.plugin none).
import { Inventory } from '../../src/inventory/schema.js';
import type { K8sLab } from '../../lab/k8s/k8s-lab.js';

export function labSetupInventory(lab: K8sLab): Inventory {
  const k = lab.kubernetes;
  return Inventory.parse(
    lab.inventory({
      cluster: {
        // Lab-only settings, as in test/lab/k8s/setup-activities.test.ts (see test/lab/k8s/README.md). The
        // workflow checks its input with the inventory rules, which refuse pod and Service ranges inside the hosts'
        // subnet: so the hosts' subnet is declared as the lower /25 (hosts .11+, VIP .100), pods keep the lab's
        // /28s (.128/26 for 3 hosts) and Services take .240/28, all still inside the lab's own /24.
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

/** `kubectl get nodes` on h1 as "name status" lines, sorted. */
export async function nodeStates(lab: K8sLab): Promise<string[]> {
  const out = (await lab.exec('h1', 'kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --no-headers')).stdout;
  return out
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/).slice(0, 2).join(' '))
    .sort();
}
