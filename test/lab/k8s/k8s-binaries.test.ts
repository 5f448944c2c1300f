// ensureK8sBinaries runs the real scripts/build-k8s.sh. The test command builds the lab's current version before the
// tests (scripts/setup-k8s-lab.sh, tens of minutes cold), so here the real binaries are a cache hit.
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureK8sBinaries, K8S_BINARIES, K8S_LAB_VERSIONS, K8sBuildError } from '../../../lab/k8s-binaries.js';

const run = promisify(execFile);
const quiet = (): void => {};

describe('ensureK8sBinaries', () => {
  let cache: string;
  beforeAll(async () => {
    cache = await mkdtemp(join(tmpdir(), 'k2h-k8sbin-'));
  });
  afterAll(async () => {
    await rm(cache, { recursive: true, force: true });
  });

  it('rejects a malformed or unsupported version before running anything', async () => {
    await expect(ensureK8sBinaries('1.34', { log: quiet })).rejects.toThrow(/like 1\.32\.4/);
    await expect(ensureK8sBinaries('1.20.2', { log: quiet })).rejects.toThrow(/older than 1\.28/);
  });

  it('returns the cached binaries when the done-marker is there, without building', async () => {
    const bin = join(cache, 'k8s', '1.30.1', 'bin');
    await mkdir(bin, { recursive: true });
    for (const b of K8S_BINARIES) {
      await writeFile(join(bin, b), '#!/bin/sh\nexit 0\n');
      await chmod(join(bin, b), 0o755);
    }
    await writeFile(join(cache, 'k8s', '1.30.1', '.done'), 'version=v1.30.1\n');
    // No Go on PATH: any attempt to build would fail, so success proves the fast path.
    const got = await ensureK8sBinaries('v1.30.1', {
      log: quiet,
      env: { KUBEADM2HA_CACHE_DIR: cache, PATH: '/usr/bin:/bin' },
    });
    expect(got.version).toBe('1.30.1');
    expect(got.binDir).toBe(bin);
    expect(got.paths.kubeadm).toBe(join(bin, 'kubeadm'));
    expect(Object.keys(got.paths).sort()).toEqual([...K8S_BINARIES].sort());
  });

  it('says Go is missing when the cache is incomplete and Go is not on PATH', async () => {
    const bin = join(cache, 'k8s', '1.30.2', 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(join(cache, 'k8s', '1.30.2', '.done'), 'version=v1.30.2\n'); // marker, but no binaries
    const lines: string[] = [];
    const err = await ensureK8sBinaries('1.30.2', {
      log: (l) => lines.push(l),
      env: { KUBEADM2HA_CACHE_DIR: cache, PATH: '/usr/bin:/bin' },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(K8sBuildError);
    expect(String(err)).toMatch(/Go is not on PATH/);
    expect(lines.join('\n')).toMatch(/Go is not on PATH/);
  });

  it(
    `builds Kubernetes ${K8S_LAB_VERSIONS.current} from the module proxy, stamped with its version`,
    async () => {
      const { paths } = await ensureK8sBinaries(K8S_LAB_VERSIONS.current);
      const v = `v${K8S_LAB_VERSIONS.current}`;
      expect((await run(paths.kubeadm, ['version', '-o', 'short'])).stdout.trim()).toBe(v);
      expect((await run(paths.kubelet, ['--version'])).stdout.trim()).toBe(`Kubernetes ${v}`);
      expect((await run(paths['kube-apiserver'], ['--version'])).stdout.trim()).toBe(`Kubernetes ${v}`);
    },
    120 * 60_000,
  );
});
