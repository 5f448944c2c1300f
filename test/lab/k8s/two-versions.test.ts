// An upgrade lab (createK8sLab({ versions })): the mirror and the registry serve the previous and the current
// Kubernetes version, so a cluster is set up at the older one and upgraded to the newer one from the same
// air-gapped sources. A host installs kubeadm/kubelet/kubectl of the older version from the mirror, then the newer;
// with each version's own kubeadm, every image `kubeadm config images list` names for it (control plane, kube-proxy,
// CoreDNS, pause and stacked etcd, each at the tag that version wants) is in the registry, and containerd on the host
// pulls them all. The test command (scripts/setup-k8s-lab.sh) builds both versions.
import { afterAll, describe, expect, it } from 'vitest';
import { K8S_LAB_VERSIONS } from '../../../lab/k8s-binaries.js';
import { createK8sLab, type K8sLab } from '../../../lab/k8s/k8s-lab.js';
import { labShell } from '../../support/lab-shell.js';

const { current, previous } = K8S_LAB_VERSIONS;
let lab: K8sLab | undefined;

afterAll(async () => {
  await lab?.destroy();
});

/** HTTP status of the registry's manifest for `ref` (<registry>/<path>:<tag>), as containerd would ask for it. */
async function manifestStatus(ref: string): Promise<number> {
  const m = /^([^/]+)\/(.+):([^:/]+)$/.exec(ref);
  if (!m) throw new Error(`not an image reference: ${ref}`);
  const r = await fetch(`http://${m[1]}/v2/${m[2]}/manifests/${m[3]}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
  });
  return r.status;
}

describe('a Kubernetes lab serving two versions', () => {
  it(`${previous} then ${current} install from the mirror; each version's kubeadm image list is fully in the registry and pulls`, async () => {
    lab = await createK8sLab({ hosts: 1, version: previous, versions: [previous, current] });
    const k = lab.kubernetes;
    expect(Object.keys(k.packageVersions).sort()).toEqual([previous, current].sort());
    const sh = labShell(lab);
    const tags: Record<string, string[]> = {};
    for (const v of [previous, current]) {
      const pkgs = ['kubeadm', 'kubelet', 'kubectl'].map((p) => `${p}=${k.packageVersions[v]}`).join(' ');
      await sh('h1', `DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${pkgs} >/dev/null`);
      expect(await sh('h1', 'kubeadm version -o short')).toBe(`v${v}\n`);
      expect(await sh('h1', 'kubelet --version')).toBe(`Kubernetes v${v}\n`);
      const flags = `--kubernetes-version v${v} --image-repository ${k.imageRepository}`;
      const refs = (await sh('h1', `kubeadm config images list ${flags}`)).trim().split('\n');
      tags[v] = refs.map((r) => r.slice(k.imageRepository.length + 1)).sort();
      const missing: string[] = [];
      for (const ref of refs) if ((await manifestStatus(ref)) !== 200) missing.push(ref);
      expect(missing).toEqual([]);
      const pulled = await sh('h1', `kubeadm config images pull ${flags} 2>&1`);
      for (const ref of refs) expect(pulled).toContain(`Pulled ${ref}`);
    }
    // What each kubeadm asked for (so a new version's needs show up here when they change).
    expect(tags).toEqual({
      [previous]: [
        'coredns:v1.12.0',
        'etcd:3.5.24-0',
        `kube-apiserver:v${previous}`,
        `kube-controller-manager:v${previous}`,
        `kube-proxy:v${previous}`,
        `kube-scheduler:v${previous}`,
        'pause:3.10',
      ],
      [current]: [
        'coredns:v1.12.1',
        'etcd:3.6.5-0',
        `kube-apiserver:v${current}`,
        `kube-controller-manager:v${current}`,
        `kube-proxy:v${current}`,
        `kube-scheduler:v${current}`,
        'pause:3.10.1',
      ],
    });
  }, 3_600_000);
});
