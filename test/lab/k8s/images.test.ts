// The lab's Kubernetes images end to end, all real: images built from our cached 1.34.12 binaries and the extras
// (real pause, CoreDNS, hello), pushed to Debian's docker-registry on the lab bridge, read back by skopeo, then
// pulled by containerd inside a lab host through a hosts.toml for the plain-http registry and run with runc.
import { execFile } from 'node:child_process';
import { appendFile, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureK8sBinaries, K8S_LAB_VERSIONS, type K8sBinaries } from '../../../lab/k8s-binaries.js';
import { ensureK8sExtras, type K8sExtras } from '../../../lab/k8s/extras.js';
import { ensureEtcdBinaries, ETCD_LAB_VERSION } from '../../../lab/k8s/etcd-binaries.js';
import { ensureK8sImages, pushK8sImages, type K8sImages } from '../../../lab/k8s/images.js';
import { containerdConfig, CONTAINERD_READY, registryHostsToml } from '../../../lab/k8s/node.js';
import { startLabRegistry, type LabRegistry } from '../../../lab/k8s/registry-server.js';
import { createLab, type Lab } from '../../../lab/index.js';
import { quote } from '../../../src/ssh/quote.js';
import { pollUntil } from '../../support/poll.js';

const run = promisify(execFile);
const VERSION = K8S_LAB_VERSIONS.current;
const log = (line: string): void => void process.stderr.write(`images.test: ${line}\n`);

describe(`Kubernetes ${VERSION} images in the lab registry`, () => {
  let binaries: K8sBinaries;
  let extras: K8sExtras & { etcd: { binDir: string; version: string } };
  let images: K8sImages;
  let lab: Lab | undefined;
  let registry: LabRegistry | undefined;
  const ref = (name: string): string => images.refs[name]!(`${registry!.host}/k8s`);
  const sh = (cmd: string): Promise<{ stdout: string; stderr: string }> => lab!.exec('h1', cmd);

  beforeAll(async () => {
    binaries = await ensureK8sBinaries(VERSION, { log });
    const etcd = await ensureEtcdBinaries(ETCD_LAB_VERSION, { log });
    extras = { ...(await ensureK8sExtras({ log })), etcd: { binDir: etcd.binDir, version: etcd.version } };
    images = await ensureK8sImages(VERSION, { binDir: binaries.binDir, extras, log });
    lab = await createLab({ hosts: 1 });
    registry = await startLabRegistry({ labDir: lab.dir, address: lab.bridgeAddress });
  }, 20 * 60_000);
  afterAll(async () => {
    await registry?.stop();
    await lab?.destroy();
  });

  it('builds every image kubeadm lists (etcd from our 3.6.5 build), and a warm call builds none', async () => {
    expect(images.images.map((i) => `${i.name}:${i.tag}`).sort()).toEqual(
      [
        `kube-apiserver:v${VERSION}`,
        `kube-controller-manager:v${VERSION}`,
        `kube-scheduler:v${VERSION}`,
        `kube-proxy:v${VERSION}`,
        'coredns:v1.12.1',
        'pause:3.10.1',
        `etcd:${ETCD_LAB_VERSION}-0`,
        'hello:1',
      ].sort(),
    );
    expect(images.skipped).toEqual([]);
    const t0 = performance.now();
    const warm = await ensureK8sImages(VERSION, { binDir: binaries.binDir, extras, log });
    const warmMs = Math.round(performance.now() - t0);
    expect(warm.images.filter((i) => i.built)).toEqual([]);
    expect(warm.images.map((i) => i.manifestDigest)).toEqual(images.images.map((i) => i.manifestDigest));
    log(`warm ensureK8sImages: ${warmMs} ms`);
    for (const i of images.images) {
      log(
        `${i.name}:${i.tag} layer ${i.layerSize} bytes (${i.uncompressedSize} unpacked) ${i.built ? `built in ${i.ms} ms` : 'cached'}`,
      );
    }
  });

  it('pushes them to the real registry (skopeo sees our digests); a second push uploads nothing', async () => {
    const first = await pushK8sImages({ images, registryUrl: registry!.url, log });
    for (const p of first.pushed) log(`push ${p.ref}: ${p.uploadedBytes} bytes in ${p.ms} ms`);
    expect(first.pushed.map((p) => p.ref)).toContain(`${registry!.host}/k8s/kube-apiserver:v${VERSION}`);
    const apiserver = images.images.find((i) => i.name === 'kube-apiserver')!;
    const { stdout } = await run('skopeo', [
      'inspect',
      '--tls-verify=false',
      `docker://${registry!.host}/k8s/kube-apiserver:v${VERSION}`,
    ]);
    expect((JSON.parse(stdout) as { Digest: string }).Digest).toBe(apiserver.manifestDigest);

    const second = await pushK8sImages({ images, registryUrl: registry!.url, log });
    expect(second.pushed.every((p) => p.alreadyThere && p.uploadedBytes === 0)).toBe(true);
    log(`push total: first ${first.ms} ms, second ${second.ms} ms`);
  });

  it('containerd in a lab host pulls them over plain http (hosts.toml) and runc runs them', async () => {
    const reg = registry!.host;
    const files: [string, string][] = [
      ['/etc/containerd/config.toml', containerdConfig({ registry: reg, pauseImage: ref('pause') })],
      [`/etc/containerd/certs.d/${reg}/hosts.toml`, registryHostsToml(reg)],
    ];
    for (const [path, content] of files) {
      await sh(
        `mkdir -p ${quote(path.slice(0, path.lastIndexOf('/')))} && printf %s ${quote(content)} > ${quote(path)}`,
      );
    }
    await sh('setsid nohup containerd </dev/null >/var/log/containerd.log 2>&1 &');
    await pollUntil(
      async () => (await lab!.exec('h1', CONTAINERD_READY, { allowFail: true })).code === 0,
      'containerd',
      30_000,
    );

    const ctr = 'ctr -n k8s.io';
    for (const name of ['kube-apiserver', 'kube-proxy', 'pause']) {
      const t0 = performance.now();
      await sh(`${ctr} images pull --hosts-dir /etc/containerd/certs.d ${quote(ref(name))} >/dev/null`);
      log(`ctr pull ${name}: ${Math.round(performance.now() - t0)} ms`);
    }
    const listed = await sh(`${ctr} images ls`);
    const apiserver = images.images.find((i) => i.name === 'kube-apiserver')!;
    expect(listed.stdout).toMatch(
      new RegExp(`${ref('kube-apiserver').replace(/[.]/g, '\\.')}\\s+\\S+\\s+${apiserver.manifestDigest}`),
    );

    const version = await sh(
      `${ctr} run --rm ${quote(ref('kube-apiserver'))} k2h-t1 /usr/local/bin/kube-apiserver --version`,
    );
    expect(version.stdout.trim()).toBe(`Kubernetes v${VERSION}`);
    // Found through PATH too, as kubeadm's static pods name it (command: [kube-apiserver, …]).
    const viaPath = await sh(`${ctr} run --rm ${quote(ref('kube-apiserver'))} k2h-t2 kube-apiserver --version`);
    expect(viaPath.stdout.trim()).toBe(`Kubernetes v${VERSION}`);

    // kube-proxy's iptables: Debian's userland with its libraries and plugins, both back ends.
    const ipt = await sh(
      `${ctr} run --rm ${quote(ref('kube-proxy'))} k2h-t4 iptables --version && ` +
        `${ctr} run --rm ${quote(ref('kube-proxy'))} k2h-t5 iptables-legacy-save --version && ` +
        `${ctr} run --rm ${quote(ref('kube-proxy'))} k2h-t6 nft --version && ` +
        `${ctr} run --rm ${quote(ref('kube-proxy'))} k2h-t7 /usr/local/bin/kube-proxy --version`,
    );
    expect(ipt.stdout).toMatch(/^iptables v1\.8\.\d+ \(nf_tables\)$/m);
    expect(ipt.stdout).toMatch(/^iptables-save v1\.8\.\d+ \(legacy\)$/m);
    expect(ipt.stdout).toMatch(/^nftables v1\.\d+\.\d+/m);
    expect(ipt.stdout).toMatch(new RegExp(`^Kubernetes v${VERSION}$`, 'm'));

    // And it works against the kernel, with its match plugins (tcp, comment), in the host's network namespace as
    // kube-proxy runs (hostNetwork, privileged); the host's own iptables then sees the rule.
    const kp = `${ctr} run --rm --privileged --net-host ${quote(ref('kube-proxy'))}`;
    await sh(
      `${kp} k2h-t8 iptables -w -t nat -N K2H-TEST && ` +
        `${kp} k2h-t9 iptables -w -t nat -A K2H-TEST -p tcp --dport 80 -m comment --comment k2h-image -j RETURN`,
    );
    const saved = await sh('iptables-save -t nat');
    expect(saved.stdout).toMatch(/^-A K2H-TEST -p tcp -m tcp --dport 80 -m comment --comment k2h-image -j RETURN$/m);

    // pause, as a sandbox would run it: stays up as user 65535 until told to stop.
    await sh(`${ctr} run -d ${quote(ref('pause'))} k2h-pause`);
    await pollUntil(
      async () => /k2h-pause\s+\d+\s+RUNNING/.test((await sh(`${ctr} tasks ls`)).stdout),
      'pause task RUNNING',
      20_000,
    );
    const status = await sh(`cat /proc/$(${ctr} tasks ls | awk '$1=="k2h-pause"{print $2}')/status`);
    expect(status.stdout).toMatch(/^Uid:\s+65535\s/m);
    await sh(`${ctr} tasks kill -s TERM k2h-pause`);
    await pollUntil(
      async () => !/k2h-pause\s+\d+\s+RUNNING/.test((await sh(`${ctr} tasks ls`)).stdout),
      'pause task stopped by TERM',
      20_000,
    );
    await sh(`${ctr} tasks rm k2h-pause >/dev/null 2>&1 || true; ${ctr} containers rm k2h-pause`);
  });

  it('rebuilds an image when its input binary changes, and only then', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'k2h-imgcache-'));
    const prev = process.env.KUBEADM2HA_CACHE_DIR;
    process.env.KUBEADM2HA_CACHE_DIR = cache;
    try {
      const pause = join(cache, 'pause');
      await copyFile(extras.pause, pause);
      const opts = { binDir: binaries.binDir, extras: { pause }, only: ['pause'], log };
      const a = await ensureK8sImages(VERSION, opts);
      expect(a.images[0]?.built).toBe(true);
      expect(a.images[0]?.manifestDigest).toBe(images.images.find((i) => i.name === 'pause')?.manifestDigest);
      expect((await ensureK8sImages(VERSION, opts)).images[0]?.built).toBe(false);
      await appendFile(pause, Buffer.from([0]));
      const c = await ensureK8sImages(VERSION, opts);
      expect(c.images[0]?.built).toBe(true);
      expect(c.images[0]?.manifestDigest).not.toBe(a.images[0]?.manifestDigest);
    } finally {
      if (prev === undefined) delete process.env.KUBEADM2HA_CACHE_DIR;
      else process.env.KUBEADM2HA_CACHE_DIR = prev;
      await rm(cache, { recursive: true, force: true });
    }
  });
});
