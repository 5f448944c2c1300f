// An upgrade lab: the registry and the mirror hold two Kubernetes versions, so a cluster can be set up at the older
// one and upgraded to the newer one from the same air-gapped sources. Runs when the older version's binaries are
// cached (the test command builds only the current version: the older one is another ~9 minutes cold).
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { K8S_LAB_VERSIONS } from '../../../lab/k8s-binaries.js';
import { createK8sLab, type K8sLab } from '../../../lab/k8s/k8s-lab.js';
import { writeFileCommand } from '../../../lab/k8s/node.js';
import { cacheDir } from '../../../src/paths.js';
import { labShell } from '../../support/lab-shell.js';

const { current, previous } = K8S_LAB_VERSIONS;
const previousBuilt = existsSync(cacheDir('k8s', previous, '.done'));
let lab: K8sLab | undefined;

afterAll(async () => {
  await lab?.destroy();
});

async function tags(registry: string, name: string): Promise<string[]> {
  const r = await fetch(`http://${registry}/v2/k8s/${name}/tags/list`);
  return ((await r.json()) as { tags: string[] }).tags.sort();
}

describe('a Kubernetes lab with two versions', () => {
  it.runIf(previousBuilt)(
    `serves ${previous} and ${current} images and packages; a ${previous} node pulls all its images (when ${previous} is cached)`,
    async () => {
      lab = await createK8sLab({ hosts: 1, extraPackageVersions: [previous] });
      const k = lab.kubernetes;
      expect(await tags(k.registry, 'kube-apiserver')).toEqual([`v${previous}`, `v${current}`].sort());
      expect(await tags(k.registry, 'pause')).toEqual(['3.10', '3.10.1']);
      // One CoreDNS build, under its own tag only (kubeadm 1.33 asks for v1.12.0 and is told otherwise).
      expect(await tags(k.registry, 'coredns')).toEqual(['v1.12.1']);
      const packages = await fetch(`${k.aptMirror}Packages`).then((r) => r.text());
      for (const v of [previous, current]) expect(packages).toContain(`Package: kubeadm\nVersion: ${v}-1.1\n`);

      const sh = labShell(lab);
      const pkgs = ['kubeadm', 'kubelet', 'kubectl'].map((p) => `${p}=${k.packageVersions[previous]}`).join(' ');
      await sh('h1', `DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${pkgs} >/dev/null`);
      expect(await sh('h1', 'kubeadm version -o short')).toBe(`v${previous}\n`);
      const config = [
        'apiVersion: kubeadm.k8s.io/v1beta4',
        'kind: ClusterConfiguration',
        `kubernetesVersion: v${previous}`,
        `imageRepository: ${k.imageRepository}`,
        'dns: { imageTag: v1.12.1 }',
        `etcd: { external: { endpoints: [https://${lab.hosts[0]!.address}:2379] } }`,
        '',
      ].join('\n');
      await sh('h1', writeFileCommand('/root/kubeadm-133.yaml', config));
      const pulled = await sh('h1', 'kubeadm config images pull --config /root/kubeadm-133.yaml 2>&1');
      for (const name of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy']) {
        expect(pulled).toContain(`Pulled ${k.imageRepository}/${name}:v${previous}`);
      }
      expect(pulled).toContain(`Pulled ${k.imageRepository}/coredns:v1.12.1`);
      expect(pulled).toContain(`Pulled ${k.imageRepository}/pause:3.10`);
    },
    1_800_000,
  );
});
