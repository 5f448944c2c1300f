// Our image table (src/images/kubeadm-images.ts) against the real kubeadm: the list `kubeadm config images list`
// prints for the lab's version, by the kubeadm binary built from the Go module proxy.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { kubeadmImageList } from '../../../src/images/kubeadm-images.js';
import { ensureK8sBinaries, K8S_LAB_VERSIONS } from '../../../lab/k8s-binaries.js';

const run = promisify(execFile);
const version = K8S_LAB_VERSIONS.current;

async function kubeadmList(args: string[]): Promise<string[]> {
  const { binDir } = await ensureK8sBinaries(version);
  const { stdout } = await run(join(binDir, 'kubeadm'), ['config', 'images', 'list', ...args]);
  return stdout.trim().split('\n');
}

describe(`kubeadm ${version} config images list`, () => {
  it('matches our list under the default repository and under a mirror', async () => {
    expect(await kubeadmList(['--kubernetes-version', `v${version}`])).toEqual(
      kubeadmImageList(version).map((i) => i.ref),
    );
    const mirror = '10.200.9.1:5000/k8s';
    expect(await kubeadmList(['--kubernetes-version', `v${version}`, '--image-repository', mirror])).toEqual(
      kubeadmImageList(version, mirror).map((i) => i.ref),
    );
  });

  it('with external etcd kubeadm leaves etcd out, as our list does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'k2h-images-'));
    try {
      const config = join(dir, 'cluster.yaml');
      await writeFile(
        config,
        [
          'apiVersion: kubeadm.k8s.io/v1beta4',
          'kind: ClusterConfiguration',
          `kubernetesVersion: v${version}`,
          'imageRepository: mirror.example/k8s',
          'etcd:',
          '  external:',
          '    endpoints: [https://10.0.0.1:2379]',
          '',
        ].join('\n'),
      );
      expect(await kubeadmList(['--config', config])).toEqual(
        kubeadmImageList(version, 'mirror.example/k8s', { etcd: false }).map((i) => i.ref),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
