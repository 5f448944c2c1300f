// The package builder and repository writer with tiny stand-in binaries (shell scripts named kubeadm, kubelet,
// kubectl): real dpkg-deb, dpkg-scanpackages and gpg, so reproducibility, the cache and the index format are checked
// in seconds. test/lab/k8s/packages.test.ts does the same with the real 1.34.12 binaries and installs them.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile, chmod, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildK8sDebs,
  K8S_DEB_PACKAGES,
  k8sDebVersion,
  previousMinorFloor,
  sha256File,
} from '../../../lab/k8s/debs.js';
import { parsePackages, writeAptRepo } from '../../../lab/k8s/apt-repo.js';
import { aptSourceLine, mirrorOnlyAptScript } from '../../../lab/k8s/apt-mirror.js';

const pexec = promisify(execFile);

describe('kubeadm/kubelet/kubectl .deb packages (stand-in binaries)', () => {
  let work: string;
  let bin: string;
  const writeBinaries = async (tag: string): Promise<void> => {
    await mkdir(bin, { recursive: true });
    for (const p of K8S_DEB_PACKAGES) {
      await writeFile(join(bin, p), `#!/bin/sh\necho ${p} ${tag}\n`);
      await chmod(join(bin, p), 0o755);
    }
  };
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'k2h-debs-'));
    bin = join(work, 'bin');
    await writeBinaries('one');
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('names versions and the kubeadm skew floor like pkgs.k8s.io', () => {
    expect(k8sDebVersion('1.34.12')).toBe('1.34.12-1.1');
    expect(k8sDebVersion('v1.33.13')).toBe('1.33.13-1.1');
    expect(previousMinorFloor('1.34.12')).toBe('1.33.0');
  });

  it('builds byte-identical packages in two places, caches them, and rebuilds when a binary changes', async () => {
    const a = await buildK8sDebs('1.34.12', bin, { outDir: join(work, 'a') });
    const b = await buildK8sDebs('1.34.12', bin, { outDir: join(work, 'b') });
    expect(a.cached).toBe(false);
    expect(b.debs.map((d) => d.sha256)).toEqual(a.debs.map((d) => d.sha256));
    for (const d of a.debs) expect(await sha256File(d.file)).toBe(d.sha256);
    // Only the packages and the marker: no staging trees or temporary directories left behind.
    expect((await readdir(join(work, 'a'))).sort()).toEqual(
      ['.done', ...a.debs.map((d) => d.file.split('/').pop()!)].sort(),
    );
    expect((await readdir(work)).filter((n) => n.includes('.tmp-') || n.includes('.old-'))).toEqual([]);

    const hit = await buildK8sDebs('1.34.12', bin, { outDir: join(work, 'a') });
    expect(hit.cached).toBe(true);
    expect(hit.debs).toEqual(a.debs);

    await writeBinaries('two');
    const rebuilt = await buildK8sDebs('1.34.12', bin, { outDir: join(work, 'a') });
    expect(rebuilt.cached).toBe(false);
    expect(rebuilt.debs.map((d) => d.sha256)).not.toEqual(a.debs.map((d) => d.sha256));
    const { stdout } = await pexec('dpkg-deb', ['--fsys-tarfile', rebuilt.debs[0]!.file], { encoding: 'buffer' });
    expect(stdout.includes(Buffer.from('echo kubeadm two'))).toBe(true);
    await writeBinaries('one');
  });

  it('lays files out as pkgs.k8s.io does, owned by root, with fixed mtimes', async () => {
    const { debs } = await buildK8sDebs('1.34.12', bin, { outDir: join(work, 'layout') });
    const list = async (pkg: string): Promise<string[]> =>
      (await pexec('dpkg-deb', ['-c', debs.find((d) => d.package === pkg)!.file])).stdout.trim().split('\n');
    const files = async (pkg: string): Promise<string[]> =>
      (await list(pkg)).filter((l) => l.startsWith('-')).map((l) => l.split(/\s+/).pop()!);
    expect(await files('kubeadm')).toEqual([
      './lib/systemd/system/kubelet.service.d/10-kubeadm.conf',
      './usr/bin/kubeadm',
      './usr/share/doc/kubeadm/copyright',
    ]);
    expect(await files('kubelet')).toEqual([
      './lib/systemd/system/kubelet.service',
      './usr/bin/kubelet',
      './usr/share/doc/kubelet/copyright',
    ]);
    expect(await files('kubectl')).toEqual(['./usr/bin/kubectl', './usr/share/doc/kubectl/copyright']);
    expect((await list('kubelet')).filter((l) => l.startsWith('d')).map((l) => l.split(/\s+/).pop())).toEqual(
      expect.arrayContaining(['./etc/kubernetes/manifests/', './var/lib/kubelet/']),
    );
    for (const line of await list('kubelet')) expect(line).toMatch(/^\S+ root\/root .* 2024-01-01 00:00 \.\//);
  });

  it('indexes several versions in one signed flat repository', async () => {
    const cur = await buildK8sDebs('1.34.12', bin, { outDir: join(work, 'v134') });
    const old = await buildK8sDebs('1.33.13', bin, { outDir: join(work, 'v133') });
    const repo = await writeAptRepo(join(work, 'repo'), [...old.debs, ...cur.debs]);
    expect(
      repo.packages
        .filter((p) => p.package === 'kubeadm')
        .map((p) => p.version)
        .sort(),
    ).toEqual(['1.33.13-1.1', '1.34.12-1.1']);
    expect(repo.packages.every((p) => p.filename.startsWith('./'))).toBe(true);
    const release = await readFile(join(repo.dir, 'Release'), 'utf8');
    for (const name of ['Packages', 'Packages.gz']) {
      const data = await readFile(join(repo.dir, name));
      const sum = (await pexec('sha256sum', [join(repo.dir, name)])).stdout.split(' ')[0];
      expect(release).toContain(` ${sum} ${data.length} ${name}\n`);
    }
    expect(repo.signed).toBe(true);
    // gpgv (what apt runs) accepts InRelease with the exported keyring, and rejects an edited one.
    await pexec('gpgv', ['--keyring', repo.keyringFile!, join(repo.dir, 'InRelease')]);
    const tampered = join(work, 'InRelease.tampered');
    await writeFile(
      tampered,
      (await readFile(join(repo.dir, 'InRelease'), 'utf8')).replace('Suite: lab', 'Suite: lob'),
    );
    await expect(pexec('gpgv', ['--keyring', repo.keyringFile!, tampered])).rejects.toThrow(/BAD signature/);
    expect(await readdir(repo.dir)).not.toContain('pubring.kbx');

    // Rewriting with one version drops the other's files and entries; the key stays the same.
    const again = await writeAptRepo(join(work, 'repo'), cur.debs);
    expect(again.fingerprint).toBe(repo.fingerprint);
    expect((await readdir(repo.dir)).filter((n) => n.endsWith('.deb')).sort()).toEqual(
      cur.debs.map((d) => d.file.split('/').pop()).sort(),
    );
    expect(parsePackages(await readFile(join(repo.dir, 'Packages'), 'utf8'))).toHaveLength(3);

    // Unsigned on request: no signature may be left behind to contradict the new Release.
    const unsigned = await writeAptRepo(join(work, 'repo'), cur.debs, { sign: 'never' });
    expect(unsigned.signed).toBe(false);
    expect(unsigned.keyringFile).toBeUndefined();
    expect((await readdir(repo.dir)).filter((n) => /InRelease|Release\.(gpg|key)|\.tmp$/.test(n))).toEqual([]);
  });

  it('refuses to keep the signing key inside the served directory', async () => {
    await expect(writeAptRepo(join(work, 'r2'), [], { gnupgHome: join(work, 'r2', 'gnupg') })).rejects.toThrow(
      /must be outside the served repository/,
    );
  });

  it('writes the sources line signed-by the key, or trusted=yes, and refuses odd input', async () => {
    expect(aptSourceLine('http://10.200.3.1:8080', '/etc/apt/keyrings/k.gpg')).toBe(
      'deb [signed-by=/etc/apt/keyrings/k.gpg] http://10.200.3.1:8080/ ./',
    );
    expect(aptSourceLine('http://10.200.3.1:8080/')).toBe('deb [trusted=yes] http://10.200.3.1:8080/ ./');
    expect(() => aptSourceLine('http://x/ ./\ndeb http://evil/ ./')).toThrow(/not an http/);
    expect(() => aptSourceLine('http://x/', 'relative.gpg')).toThrow(/absolute/);
    expect(await mirrorOnlyAptScript({ url: 'http://10.200.3.1:8080/', update: false })).toContain(
      "echo 'deb [trusted=yes] http://10.200.3.1:8080/ ./' > /etc/apt/sources.list.d/kubeadm2ha.list",
    );
  });

  it('purges only Kubernetes packages that did not come from the mirror (the script run with a stand-in dpkg)', async () => {
    // dpkg-query and dpkg replaced by scripts that report a fixed database and log purges: the case logic of the
    // real script runs in /bin/sh unchanged.
    const fake = join(work, 'fakebin');
    await mkdir(fake, { recursive: true });
    await writeFile(
      join(fake, 'dpkg-query'),
      '#!/bin/sh\ncase "$3" in kubectl) printf "ii |1:528.0.0-0";; kubelet) printf "ii |1.34.12-1.1";; ' +
        'kubeadm) printf "rc |1.30.0-1.1";; esac\n',
    );
    await writeFile(join(fake, 'dpkg'), `#!/bin/sh\necho "$@" >> ${join(work, 'purged')}\n`);
    await Promise.all(['dpkg-query', 'dpkg'].map((f) => chmod(join(fake, f), 0o755)));
    const script = await mirrorOnlyAptScript({ url: 'http://10.200.3.1:8080/', update: false });
    const purgePart = script.slice(script.indexOf('for p in'));
    await pexec('/bin/sh', ['-c', `set -e\n${purgePart}`], { env: { PATH: `${fake}:/usr/bin:/bin` } });
    expect(await readFile(join(work, 'purged'), 'utf8')).toBe('--purge kubectl\n');
  });
});
