// The lab also serves kubeadm's other etcd layout: stacked etcd, where `kubeadm init` runs etcd itself as a static
// pod from <imageRepository>/etcd:<tag>. One host, plain commands: init with the lab's etcd 3.6.5 image, etcd
// answers inside its pod, the node is Ready, and `kubeadm reset` removes the member's data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createK8sLab, type K8sLab } from '../../../lab/k8s/k8s-lab.js';
import { LAB_COMPONENT_CONFIGS, writeFileCommand } from '../../../lab/k8s/node.js';
import { labShell } from '../../support/lab-shell.js';
import { pollUntil } from '../../support/poll.js';

let lab: K8sLab;
const ADMIN = 'kubectl --kubeconfig /etc/kubernetes/admin.conf';
const sh = (host: string, cmd: string): Promise<string> => labShell(lab)(host, cmd);

beforeAll(async () => {
  lab = await createK8sLab({ hosts: 1 });
}, 3_600_000);
afterAll(async () => {
  await lab?.destroy();
});

describe('stacked etcd in the Kubernetes lab', () => {
  it('kubeadm init runs etcd from the lab image; the node is Ready; kubeadm reset removes the member data', async () => {
    const k = lab.kubernetes;
    const h1 = lab.hosts[0]!;
    const pkgs = ['kubeadm', 'kubelet', 'kubectl'].map((p) => `${p}=${k.packageVersions[k.version]}`).join(' ');
    await sh('h1', `DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${pkgs} >/dev/null`);
    const config = [
      'apiVersion: kubeadm.k8s.io/v1beta4',
      'kind: InitConfiguration',
      `localAPIEndpoint: { advertiseAddress: ${h1.address}, bindPort: 6443 }`,
      'nodeRegistration: { name: h1, criSocket: unix:///run/containerd/containerd.sock }',
      '---',
      'apiVersion: kubeadm.k8s.io/v1beta4',
      'kind: ClusterConfiguration',
      `kubernetesVersion: v${k.version}`,
      `imageRepository: ${k.imageRepository}`,
      `networking: { serviceSubnet: ${k.serviceSubnet} }`,
      '---',
      LAB_COMPONENT_CONFIGS,
    ].join('\n');
    await sh('h1', writeFileCommand('/root/kubeadm.yaml', config, '0600'));
    const t0 = performance.now();
    expect(await sh('h1', 'kubeadm init --config /root/kubeadm.yaml 2>&1')).toMatch(/has initialized successfully/);
    process.stderr.write(`[k8s stacked] kubeadm init with stacked etcd: ${Math.round(performance.now() - t0)} ms\n`);

    // The mirror pod (the API's view of the static pod) appears once the kubelet has registered it.
    const image = await pollUntil(
      async () =>
        (
          await lab.exec('h1', `${ADMIN} -n kube-system get pod etcd-h1 -o jsonpath='{.spec.containers[0].image}'`, {
            allowFail: true,
          })
        ).stdout,
      'the etcd-h1 mirror pod',
      60_000,
      250,
    );
    expect(image).toBe(`${k.imageRepository}/etcd:${k.etcd.version}-0`);
    const members = await pollUntil(
      async () => {
        const r = await lab.exec(
          'h1',
          `${ADMIN} -n kube-system exec etcd-h1 -- etcdctl --endpoints https://127.0.0.1:2379 ` +
            '--cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt ' +
            '--key /etc/kubernetes/pki/etcd/healthcheck-client.key member list',
          { allowFail: true },
        );
        return r.code === 0 && r.stdout;
      },
      'etcdctl member list inside the etcd pod',
      60_000,
      250,
    );
    expect(members).toMatch(new RegExp(`, started, h1, https://${h1.address.replaceAll('.', '\\.')}:2380, `));
    await pollUntil(
      async () => / Ready /.test(await sh('h1', `${ADMIN} get node h1 --no-headers`)),
      'node h1 Ready',
      120_000,
      250,
    );
    expect(await sh('h1', 'ls /var/lib/etcd/member')).toMatch(/wal/);

    await lab.stopKubelet('h1');
    await sh('h1', 'kubeadm reset -f 2>&1');
    expect(await sh('h1', 'ls -A /var/lib/etcd /etc/kubernetes/manifests')).toBe(
      '/etc/kubernetes/manifests:\n\n/var/lib/etcd:\n',
    );
    expect(await sh('h1', 'ctr -n k8s.io containers ls -q')).toBe('');
  }, 600_000);
});
