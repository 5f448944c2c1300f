// kubeadm, kubelet and kubectl as real .deb packages (built from the cached 1.34.12 binaries), in a signed flat apt
// repository served on the lab bridge, installed on lab hosts with a real `apt-get install kubeadm=1.34.12-1.1` —
// the hosts' apt knows no other source (and has no route to any). With the 1.33.13 binaries cached too, the same
// repository serves both versions and a host goes through a kubeadm-style upgrade.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../../lab/index.js';
import { buildK8sDebs, K8S_DEB_PACKAGES, type K8sDebs } from '../../../lab/k8s/debs.js';
import { writeAptRepo, type AptRepo } from '../../../lab/k8s/apt-repo.js';
import {
  MIRROR_KEYRING_PATH,
  MIRROR_SOURCES_PATH,
  mirrorOnlyAptScript,
  startAptMirror,
  type AptMirror,
} from '../../../lab/k8s/apt-mirror.js';
import { ensureK8sBinaries, K8S_LAB_VERSIONS } from '../../../lab/k8s-binaries.js';
import { run } from '../../../lab/proc.js';
import { cacheDir } from '../../../src/paths.js';
import { pollUntil } from '../../support/poll.js';

const CURRENT = K8S_LAB_VERSIONS.current; // 1.34.12
const PREVIOUS = K8S_LAB_VERSIONS.previous; // 1.33.13
const HAVE_PREVIOUS = existsSync(cacheDir('k8s', PREVIOUS, '.done'));
const APT = 'DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Acquire::Retries=0';
const note = (line: string): void => void process.stderr.write(`[packages] ${line}\n`);

describe('Kubernetes packages from the lab apt mirror', () => {
  let lab: Lab;
  let current: K8sDebs;
  let previous: K8sDebs | undefined;
  let repo: AptRepo;
  let mirror: AptMirror;

  const sh = async (host: string, cmd: string): Promise<string> => (await lab.exec(host, cmd)).stdout;
  const timed = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const v = await fn();
    note(`${what}: ${Math.round(performance.now() - t0)} ms`);
    return v;
  };
  /** Everything dpkg knows plus the Kubernetes files on disk: equal before and after means the host is unchanged. */
  const hostState = (host: string): Promise<string> =>
    sh(
      host,
      "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' | sha256sum; " +
        'ls -l /usr/bin/kube* /lib/systemd/system/kubelet* 2>/dev/null; true',
    );
  /** Request lines the mirror logged for `path`, from `address`. */
  const mirrorGets = async (address: string, path: string): Promise<number> =>
    (await readFile(mirror.service.logFile, 'utf8'))
      .split('\n')
      .filter((l) => l.startsWith(`${address} `) && /"GET \/(\.\/)?/.test(l) && l.includes(path) && /" 200 /.test(l))
      .length;

  beforeAll(async () => {
    lab = await createLab({ hosts: 2 });
    const bins = await ensureK8sBinaries(CURRENT);
    current = await timed(`buildK8sDebs ${CURRENT} (first call)`, () => buildK8sDebs(CURRENT, bins.binDir));
    note(`first call ${current.cached ? 'hit the cache' : `built: ${JSON.stringify(current.buildMs)} ms`}`);
    if (HAVE_PREVIOUS) {
      const old = await ensureK8sBinaries(PREVIOUS);
      previous = await timed(`buildK8sDebs ${PREVIOUS}`, () => buildK8sDebs(PREVIOUS, old.binDir));
    }
    repo = await writeAptRepo(join(lab.dir, 'apt-repo'), [...current.debs, ...(previous?.debs ?? [])]);
    note(
      `repository of ${repo.packages.length} packages indexed${repo.signed ? ' and signed' : ''} in ${repo.indexMs} ms`,
    );
    mirror = await timed('mirror up', () =>
      startAptMirror({ labDir: lab.dir, address: lab.bridgeAddress, repoDir: repo.dir }),
    );
    const script = await mirrorOnlyAptScript({
      url: mirror.url,
      ...(repo.keyringFile && { keyringFile: repo.keyringFile }),
    });
    await timed('hosts pointed at the mirror (apt-get update)', () =>
      Promise.all(lab.hosts.map((h) => lab.exec(h.name, script))),
    );
  }, 900_000);

  afterAll(async () => {
    await mirror?.stop();
    await lab?.destroy();
  });

  it('builds pkgs.k8s.io-style packages, and a second build is a cache hit with the same bytes', async () => {
    const bins = await ensureK8sBinaries(CURRENT);
    const t0 = performance.now();
    const again = await buildK8sDebs(CURRENT, bins.binDir);
    const ms = Math.round(performance.now() - t0);
    note(`buildK8sDebs ${CURRENT} again: ${ms} ms (cache hit: ${again.cached})`);
    expect(again.cached).toBe(true);
    expect(again.debs.map((d) => [d.package, d.sha256])).toEqual(current.debs.map((d) => [d.package, d.sha256]));
    for (const d of current.debs) note(`${d.package} ${d.version}: ${(d.size / 1e6).toFixed(1)} MB`);

    const arch = (await run('dpkg', ['--print-architecture'])).stdout.trim();
    expect(current.debs.map((d) => d.file.split('/').pop())).toEqual(
      K8S_DEB_PACKAGES.map((p) => `${p}_${CURRENT}-1.1_${arch}.deb`),
    );
    const field = async (pkg: string, name: string): Promise<string> =>
      (await run('dpkg-deb', ['-f', current.debs.find((d) => d.package === pkg)!.file, name])).stdout.trim();
    expect(await field('kubeadm', 'Depends')).toBe('kubelet (>= 1.33.0), kubectl (>= 1.33.0)');
    expect(await field('kubelet', 'Depends')).toBe('iptables, iproute2, mount, util-linux');
    expect(await field('kubectl', 'Homepage')).toBe('https://kubernetes.io');
    // What the repository lists is what was built: both versions when 1.33.13 is cached.
    expect(repo.packages.map((p) => `${p.package}=${p.version}`).sort()).toEqual(
      [...current.debs, ...(previous?.debs ?? [])].map((d) => `${d.package}=${d.version}`).sort(),
    );
  });

  it('h1 installs kubeadm, kubelet and kubectl 1.34.12-1.1 from the mirror with apt-get', async () => {
    const v = `${CURRENT}-1.1`;
    await timed('h1: apt-get install kubeadm kubelet kubectl', () =>
      sh('h1', `${APT} install kubeadm=${v} kubelet=${v} kubectl=${v}`),
    );
    expect((await sh('h1', 'kubeadm version -o short')).trim()).toBe(`v${CURRENT}`);
    expect((await sh('h1', 'kubelet --version')).trim()).toBe(`Kubernetes v${CURRENT}`);
    expect(await sh('h1', 'kubectl version --client')).toMatch(new RegExp(`^Client Version: v${CURRENT}$`, 'm'));
    expect(await sh('h1', "dpkg-query -W -f='${Version} ${db:Status-Abbrev}\\n' kubeadm kubelet kubectl")).toBe(
      `${v} ii \n`.repeat(3),
    );
    const kubeletFiles = (await sh('h1', 'dpkg -L kubelet')).split('\n');
    expect(kubeletFiles).toEqual(expect.arrayContaining(['/usr/bin/kubelet', '/lib/systemd/system/kubelet.service']));
    expect(await sh('h1', 'cat /lib/systemd/system/kubelet.service')).toMatch(/^Restart=always\nRestartSec=10$/m);
    // As on pkgs.k8s.io, the drop-in that wires the kubelet to kubeadm's files comes with kubeadm.
    expect((await sh('h1', 'dpkg -L kubeadm')).split('\n')).toEqual(
      expect.arrayContaining(['/usr/bin/kubeadm', '/lib/systemd/system/kubelet.service.d/10-kubeadm.conf']),
    );
    const dropIn = await sh('h1', 'cat /lib/systemd/system/kubelet.service.d/10-kubeadm.conf');
    for (const path of [
      '/etc/kubernetes/bootstrap-kubelet.conf',
      '/etc/kubernetes/kubelet.conf',
      '/var/lib/kubelet/config.yaml',
      '/var/lib/kubelet/kubeadm-flags.env',
      '/etc/default/kubelet',
    ]) {
      expect(dropIn).toContain(path);
    }
    // apt took them from the mirror (and only could): policy names it, and the mirror logged h1's downloads.
    const policy = await sh('h1', 'apt-cache policy kubeadm');
    expect(policy).toContain(`${mirror.url.replace(/\/$/, '')} ./ Packages`);
    expect(policy).toMatch(new RegExp(`\\*\\*\\* ${CURRENT.replaceAll('.', '\\.')}-1\\.1 500`));
    for (const p of K8S_DEB_PACKAGES) expect(await mirrorGets(lab.hosts[0]!.address, `${p}_${v}_`)).toBe(1);
  });

  it('h2 installs only kubectl and has no kubeadm or kubelet', async () => {
    await timed('h2: apt-get install kubectl', () => sh('h2', `${APT} install kubectl=${CURRENT}-1.1`));
    expect(await sh('h2', 'kubectl version --client')).toMatch(new RegExp(`^Client Version: v${CURRENT}$`, 'm'));
    expect((await lab.exec('h2', 'command -v kubeadm kubelet', { allowFail: true })).stdout).toBe('');
    expect((await lab.exec('h2', 'dpkg -s kubeadm', { allowFail: true })).code).not.toBe(0);
    expect(await sh('h2', 'ls /lib/systemd/system/kubelet.service.d 2>/dev/null; true')).toBe('');
  });

  it('asking for a version the mirror does not have fails with apt’s error and leaves the host unchanged', async () => {
    const before = await hostState('h2');
    const res = await lab.exec('h2', `${APT} install kubeadm=1.99.0-1.1 kubelet=1.99.0-1.1`, { allowFail: true });
    expect(res.code).toBe(100);
    expect(res.stderr).toMatch(/^E: Version '1\.99\.0-1\.1' for 'kubeadm' was not found$/m);
    expect(await hostState('h2')).toBe(before);
  });

  it('apt verifies the repository signature: without the key, apt-get update refuses the mirror', async () => {
    if (!repo.signed) {
      note('gpg not installed: the repository is unsigned and hosts use [trusted=yes]');
      return;
    }
    const res = await lab.exec(
      'h2',
      `mv ${MIRROR_KEYRING_PATH} /root/key.off && apt-get update -q -o Acquire::Retries=0; rc=$?; ` +
        `mv /root/key.off ${MIRROR_KEYRING_PATH}; exit $rc`,
      { allowFail: true },
    );
    expect(`${res.stdout}\n${res.stderr}`).toMatch(/NO_PUBKEY|not signed|signatures couldn't be verified/);
    expect(await sh('h2', `cat ${MIRROR_SOURCES_PATH}`)).toBe(
      `deb [signed-by=${MIRROR_KEYRING_PATH}] ${mirror.url} ./\n`,
    );
    // Key back: the mirror is trusted again.
    await sh('h2', 'apt-get update -q -o Acquire::Retries=0 >/dev/null');
    expect(await sh('h2', 'apt-cache policy kubectl')).toContain(mirror.url.replace(/\/$/, ''));
  });

  it.skipIf(!HAVE_PREVIOUS)(
    `serves ${PREVIOUS} and ${CURRENT} side by side; h2 installs ${PREVIOUS} and upgrades the kubeadm way` +
      (HAVE_PREVIOUS ? '' : ` (skipped: ${PREVIOUS} binaries not cached, no ${cacheDir('k8s', PREVIOUS, '.done')})`),
    async () => {
      const madison = await sh('h2', 'apt-cache madison kubeadm');
      expect(madison).toMatch(
        new RegExp(`kubeadm \\| ${CURRENT}-1\\.1 \\| ${mirror.url.replace(/\/$/, '')} \\./ Packages`),
      );
      expect(madison).toMatch(new RegExp(`kubeadm \\| ${PREVIOUS}-1\\.1 \\| `));
      const p = `${PREVIOUS}-1.1`;
      const c = `${CURRENT}-1.1`;
      await timed(`h2: apt-get install ${PREVIOUS} (kubectl downgraded)`, () =>
        sh('h2', `${APT} install --allow-downgrades kubeadm=${p} kubelet=${p} kubectl=${p}`),
      );
      expect((await sh('h2', 'kubeadm version -o short')).trim()).toBe(`v${PREVIOUS}`);
      // kubeadm first, the kubelet one minor behind (kubeadm's Depends allow exactly that), then the rest.
      await timed(`h2: upgrade kubeadm to ${CURRENT}`, () => sh('h2', `${APT} install kubeadm=${c}`));
      expect((await sh('h2', 'kubeadm version -o short')).trim()).toBe(`v${CURRENT}`);
      expect((await sh('h2', 'kubelet --version')).trim()).toBe(`Kubernetes v${PREVIOUS}`);
      await timed(`h2: upgrade kubelet and kubectl to ${CURRENT}`, () =>
        sh('h2', `${APT} install kubelet=${c} kubectl=${c}`),
      );
      expect((await sh('h2', 'kubelet --version')).trim()).toBe(`Kubernetes v${CURRENT}`);
      expect(await sh('h2', "dpkg-query -W -f='${Package} ${Version}\\n' kubeadm kubelet kubectl")).toBe(
        `kubeadm ${c}\nkubectl ${c}\nkubelet ${c}\n`,
      );
    },
  );

  it('pointing a host at a mirror that does not answer fails loudly instead of leaving apt with stale lists', async () => {
    const dead = await mirrorOnlyAptScript({ url: `http://${lab.bridgeAddress}:9/` });
    const res = await lab.exec('h1', dead, { allowFail: true });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(new RegExp(`Failed to fetch http://${lab.bridgeAddress.replaceAll('.', '\\.')}:9/`));
    const good = await mirrorOnlyAptScript({
      url: mirror.url,
      ...(repo.keyringFile && { keyringFile: repo.keyringFile }),
    });
    await sh('h1', good);
    expect(await sh('h1', 'apt-cache policy kubeadm')).toContain(mirror.url.replace(/\/$/, ''));
  });

  it('the mirror is read-only and reachable only on the lab bridge address', async () => {
    for (const method of ['PUT', 'DELETE', 'POST']) {
      const status = await sh('h1', `curl -s -o /dev/null -w '%{http_code}' -X ${method} -d x ${mirror.url}Packages`);
      expect(status).toBe('501');
    }
    expect((await readFile(join(repo.dir, 'Packages'), 'utf8')).length).toBeGreaterThan(1);
    const ss = (await run('ss', ['-Hltn', `sport = :8080`])).stdout;
    expect(ss).toContain(`${lab.bridgeAddress}:8080`);
    await pollUntil(
      async () => (await mirrorGets(lab.hosts[0]!.address, 'InRelease')) > 0,
      'mirror logged InRelease',
      5000,
    );
  });
});
