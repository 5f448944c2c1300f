// etcd for the lab: ensureEtcdBinaries runs the real scripts/build-etcd.sh (several minutes cold, once per machine;
// a rerun returns at once), buildEtcdDebs packages the result. Then, in a lab host, the point of it all: the flags
// kubeadm 1.34 writes into its etcd static-pod manifest, which Debian 12's etcd 3.4 rejects, start our etcd with
// kubeadm's own certificates, etcdctl finds it healthy, and our .deb upgrades the host's Debian etcd-server.
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { madisonEntries, parseEtcdVersion, pickVersion } from '../../../src/activities/etcd.js';
import { createLab, type Lab, type LabHost } from '../../../lab/index.js';
import { hostDir } from '../../../lab/host-files.js';
import { ensureK8sBinaries, K8S_LAB_VERSIONS } from '../../../lab/k8s-binaries.js';
import { ensureEtcdBinaries, ETCD_LAB_VERSION, EtcdBuildError } from '../../../lab/k8s/etcd-binaries.js';
import { buildEtcdDebs, etcdDebVersion, type EtcdDebs } from '../../../lab/k8s/etcd-debs.js';
import { run } from '../../../lab/proc.js';
import { quote, shellCommand } from '../../../src/ssh/quote.js';
import { pollUntil } from '../../support/poll.js';

const quiet = (): void => {};
// A cold build on two shared cores: minutes, not seconds.
const BUILD_TIMEOUT = 60 * 60_000;

describe('ensureEtcdBinaries (fast paths)', () => {
  let cache: string;
  beforeAll(async () => {
    cache = await mkdtemp(join(tmpdir(), 'k2h-etcdbin-'));
  });
  afterAll(async () => {
    await rm(cache, { recursive: true, force: true });
  });

  it('rejects a malformed version before running anything', async () => {
    await expect(ensureEtcdBinaries('3.6', { log: quiet })).rejects.toThrow(EtcdBuildError);
    await expect(ensureEtcdBinaries('1.34.12', { log: quiet })).rejects.toThrow(/like 3\.6\.5/);
  });

  it('returns the cached binaries when the done-marker is there, without building', async () => {
    const bin = join(cache, 'etcd', '3.5.99', 'bin');
    await mkdir(bin, { recursive: true });
    for (const b of ['etcd', 'etcdctl', 'etcdutl']) {
      await writeFile(join(bin, b), '#!/bin/sh\nexit 0\n');
      await chmod(join(bin, b), 0o755);
    }
    await writeFile(join(cache, 'etcd', '3.5.99', '.done'), 'version=3.5.99\n');
    // No Go on PATH: any attempt to build would fail, so success proves the fast path.
    const got = await ensureEtcdBinaries('v3.5.99', {
      log: quiet,
      env: { KUBEADM2HA_CACHE_DIR: cache, PATH: '/usr/bin:/bin' },
    });
    expect(got).toEqual({
      version: '3.5.99',
      binDir: bin,
      etcd: join(bin, 'etcd'),
      etcdctl: join(bin, 'etcdctl'),
      etcdutl: join(bin, 'etcdutl'),
    });
  });

  it('says Go is missing when the cache is incomplete and Go is not on PATH', async () => {
    await mkdir(join(cache, 'etcd', '3.5.98', 'bin'), { recursive: true });
    await writeFile(join(cache, 'etcd', '3.5.98', '.done'), 'version=3.5.98\n'); // marker, but no binaries
    const err = await ensureEtcdBinaries('3.5.98', {
      log: quiet,
      env: { KUBEADM2HA_CACHE_DIR: cache, PATH: '/usr/bin:/bin' },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EtcdBuildError);
    expect(String(err)).toMatch(/Go is not on PATH/);
  });
});

describe(`etcd ${ETCD_LAB_VERSION} built from the module proxy`, () => {
  let bin: Awaited<ReturnType<typeof ensureEtcdBinaries>>;
  let debs: EtcdDebs;
  let scratch: string;
  let lab: Lab | undefined;
  let host: LabHost;
  /** The host's /tmp, seen from here: how files get into the host. */
  let hostTmp: string;

  beforeAll(async () => {
    const t0 = Date.now();
    bin = await ensureEtcdBinaries(ETCD_LAB_VERSION, { log: (l) => process.stderr.write(`${l}\n`) });
    process.stderr.write(`ensureEtcdBinaries: ${Date.now() - t0} ms\n`);
    scratch = await mkdtemp(join(tmpdir(), 'k2h-etcddeb-'));
  }, BUILD_TIMEOUT);
  afterAll(async () => {
    await lab?.destroy();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('reports the pinned version, the Go that built it and the release commit', async () => {
    const etcd = await run(bin.etcd, ['--version']);
    expect(parseEtcdVersion(etcd.stdout)).toBe(ETCD_LAB_VERSION);
    expect(etcd.stdout).toMatch(/^Go Version: go1\.\d+/m);
    // The commit of the v3.6.5 tag, as the module proxy reports it (stamped by build-etcd.sh, as upstream's build does).
    expect(etcd.stdout).toMatch(/^Git SHA: a0614505aff9b8ff469e9c59c2d979a5936d13f4$/m);
    expect((await run(bin.etcdctl, ['version'])).stdout).toMatch(
      new RegExp(`^etcdctl version: ${ETCD_LAB_VERSION}$`, 'm'),
    );
    expect((await run(bin.etcdutl, ['version'])).stdout).toMatch(
      new RegExp(`^etcdutl version: ${ETCD_LAB_VERSION}$`, 'm'),
    );
    // Static (CGO_ENABLED=0): runs on any host's libc.
    const ldd = await run('ldd', [bin.etcd], { check: false });
    expect(ldd.stdout + ldd.stderr).toMatch(/not a dynamic executable|statically linked/);
  });

  it('a rerun of the build returns the cache at once', async () => {
    const t0 = Date.now();
    const again = await ensureEtcdBinaries(ETCD_LAB_VERSION, { log: quiet });
    expect(again.binDir).toBe(bin.binDir);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('packages etcd-server and etcd-client reproducibly, named and versioned like Debian', async () => {
    // The real cache (built on the first run, a hit later) and a fresh build now: byte-identical, whenever built.
    debs = await buildEtcdDebs(ETCD_LAB_VERSION, bin.binDir, { log: (l) => process.stderr.write(`${l}\n`) });
    const a = await buildEtcdDebs(ETCD_LAB_VERSION, bin.binDir, { outDir: join(scratch, 'a') });
    expect(a.cached).toBe(false);
    expect(a.debs.map((d) => d.sha256)).toEqual(debs.debs.map((d) => d.sha256));
    expect((await buildEtcdDebs(ETCD_LAB_VERSION, bin.binDir, { outDir: join(scratch, 'a') })).cached).toBe(true);

    const arch = (await run('dpkg', ['--print-architecture'])).stdout.trim();
    expect(a.debs.map((d) => basename(d.file))).toEqual([
      `etcd-server_3.6.5-0k2h1_${arch}.deb`,
      `etcd-client_3.6.5-0k2h1_${arch}.deb`,
    ]);
    const contents = async (file: string) =>
      (await run('dpkg-deb', ['-c', file])).stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/))
        .filter((f) => !f[5]?.endsWith('/'))
        .map((f) => `${f[1]} ${f[5]}`);
    // Only the binaries (and the copyright Debian policy asks for): no unit, init script or /etc/default file.
    expect(await contents(a.debs[0]!.file)).toEqual([
      'root/root ./usr/bin/etcd',
      'root/root ./usr/share/doc/etcd-server/copyright',
    ]);
    expect(await contents(a.debs[1]!.file)).toEqual([
      'root/root ./usr/bin/etcdctl',
      'root/root ./usr/bin/etcdutl',
      'root/root ./usr/share/doc/etcd-client/copyright',
    ]);
    // Above bookworm's etcd (an upgrade), below a real Debian 3.6.5-1 (which would win).
    const gt = async (x: string, y: string) =>
      (await run('dpkg', ['--compare-versions', x, 'gt', y], { check: false })).code;
    expect(await gt(etcdDebVersion(ETCD_LAB_VERSION), '3.4.23-4+b4')).toBe(0);
    expect(await gt('3.6.5-1', etcdDebVersion(ETCD_LAB_VERSION))).toBe(0);
    // The product's installer picks exactly this version out of what `apt-cache madison` would list.
    const madison = madisonEntries(
      `etcd-server | 3.6.5-0k2h1 | http://10.200.1.1/debian lab/main ${arch} Packages\n` +
        `etcd-server | 3.4.23-4+b4 | http://deb.debian.org/debian bookworm/main ${arch} Packages\n`,
    );
    expect(
      pickVersion(
        madison.map((m) => m.version),
        ETCD_LAB_VERSION,
      ),
    ).toBe('3.6.5-0k2h1');
  }, 120_000);

  describe('in a lab host', () => {
    beforeAll(async () => {
      lab = await createLab({ hosts: 1 });
      host = lab.hosts[0]!;
      hostTmp = join(hostDir(lab.dir, host.index), 'tmp');
      const k8s = await ensureK8sBinaries(K8S_LAB_VERSIONS.current, { log: quiet });
      await mkdir(join(hostTmp, 'bin'), { recursive: true });
      for (const [name, from] of [
        ['etcd', bin.etcd],
        ['etcdctl', bin.etcdctl],
        ['kubeadm', k8s.paths.kubeadm],
      ] as const) {
        await copyFile(from, join(hostTmp, 'bin', name));
        await chmod(join(hostTmp, 'bin', name), 0o755);
      }
    }, 120_000);

    /** InitConfiguration for this host and the start of a ClusterConfiguration (the version set: without it kubeadm
     * asks dl.k8s.io for the stable version); callers add the etcd section. */
    const kubeadmConfigHead = (): string[] => [
      'apiVersion: kubeadm.k8s.io/v1beta4',
      'kind: InitConfiguration',
      `localAPIEndpoint: { advertiseAddress: ${host.address}, bindPort: 6443 }`,
      `nodeRegistration: { name: ${host.name}, criSocket: unix:///run/containerd/containerd.sock }`,
      '---',
      'apiVersion: kubeadm.k8s.io/v1beta4',
      'kind: ClusterConfiguration',
      `kubernetesVersion: v${K8S_LAB_VERSIONS.current}`,
    ];

    /** The etcd command line kubeadm 1.34 writes into /etc/kubernetes/manifests/etcd.yaml, and the certificates it
     * names, made by kubeadm itself in the host. */
    async function kubeadmEtcdArgs(): Promise<string[]> {
      const l = lab!;
      const config = [...kubeadmConfigHead(), 'etcd: { local: { dataDir: /var/lib/etcd } }', ''].join('\n');
      await writeFile(join(hostTmp, 'kubeadm.yaml'), config);
      for (const phase of ['certs etcd-ca', 'certs etcd-server', 'certs etcd-peer', 'certs etcd-healthcheck-client']) {
        await l.exec(host.name, `/tmp/bin/kubeadm init phase ${phase} --config /tmp/kubeadm.yaml`);
      }
      await l.exec(host.name, '/tmp/bin/kubeadm init phase etcd local --config /tmp/kubeadm.yaml');
      const manifest = parse((await l.exec(host.name, 'cat /etc/kubernetes/manifests/etcd.yaml')).stdout) as {
        spec: { containers: { command: string[] }[] };
      };
      const command = manifest.spec.containers[0]!.command;
      expect(command[0]).toBe('etcd');
      return command.slice(1);
    }

    it("starts with the exact flags of kubeadm 1.34's etcd manifest (which Debian's 3.4 rejects) and is healthy", async () => {
      const l = lab!;
      const args = await kubeadmEtcdArgs();
      // The two flags that made Debian's etcd unusable for kubeadm 1.34 are really in what we start.
      expect(args).toContain('--feature-gates=InitialCorruptCheck=true');
      expect(args.some((a) => a.startsWith('--watch-progress-notify-interval='))).toBe(true);
      expect(args).toContain('--client-cert-auth=true');

      // The host's own /usr/bin/etcd is bookworm's 3.4.23 (a lab package): it refuses the very same command line.
      const debian = await l.exec(host.name, shellCommand(['/usr/bin/etcd', ...args, '--version']), {
        allowFail: true,
      });
      expect(debian.code).not.toBe(0);
      expect(debian.stderr).toMatch(/flag provided but not defined: -feature-gates/);

      await l.exec(
        host.name,
        `setsid nohup ${shellCommand(['/tmp/bin/etcd', ...args])} </dev/null >/var/log/etcd.log 2>&1 &`,
      );
      const etcdctl = (cmd: string[]) =>
        shellCommand([
          '/tmp/bin/etcdctl',
          '--endpoints=https://127.0.0.1:2379',
          '--cacert=/etc/kubernetes/pki/etcd/ca.crt',
          '--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt',
          '--key=/etc/kubernetes/pki/etcd/healthcheck-client.key',
          '--command-timeout=2s',
          ...cmd,
        ]);
      const state = await pollUntil(
        async () => {
          // A process that died on a flag will never get healthy: stop waiting at once and show why.
          if ((await l.exec(host.name, 'pgrep -x etcd', { allowFail: true })).code !== 0) return 'exited';
          const res = await l.exec(host.name, etcdctl(['endpoint', 'health', '-w', 'json']), { allowFail: true });
          return res.code === 0 && (JSON.parse(res.stdout) as { health: boolean }[])[0]?.health === true && 'healthy';
        },
        'etcdctl endpoint health',
        60_000,
        200,
      ).catch((err: unknown) => String(err));
      const log = (await l.exec(host.name, 'cat /var/log/etcd.log', { allowFail: true })).stdout;
      expect(state, `etcd log tail:\n${log.split('\n').slice(-20).join('\n')}`).toBe('healthy');
      const status = JSON.parse((await l.exec(host.name, etcdctl(['endpoint', 'status', '-w', 'json']))).stdout) as {
        Status: { version: string };
      }[];
      expect(status[0]?.Status.version).toBe(ETCD_LAB_VERSION);
      expect(log).not.toMatch(/unknown flag|flag provided but not defined/i);
    }, 180_000);

    /** `kubeadm init phase preflight` with external etcd at `endpoint`: the ExternalEtcdVersion lines it prints. Every
     * other check fails in a bare lab host (no container runtime, no kubelet): --ignore-preflight-errors=all turns
     * failures into "[WARNING <Check>]" lines, so a failing version check shows by name without stopping the rest. */
    async function externalEtcdPreflight(endpoint: string, tls: boolean): Promise<string[]> {
      const pki = '/etc/kubernetes/pki/etcd';
      const file = `kubeadm-external-${endpoint.replace(/\W+/g, '-')}.yaml`;
      await writeFile(
        join(hostTmp, file),
        [
          ...kubeadmConfigHead(),
          'etcd:',
          '  external:',
          `    endpoints: [${endpoint}]`,
          ...(tls
            ? [
                `    caFile: ${pki}/ca.crt`,
                `    certFile: ${pki}/healthcheck-client.crt`,
                `    keyFile: ${pki}/healthcheck-client.key`,
              ]
            : []),
          '',
        ].join('\n'),
      );
      const out = (
        await lab!.exec(
          host.name,
          `/tmp/bin/kubeadm init phase preflight --config /tmp/${file} --ignore-preflight-errors=all 2>&1`,
          { allowFail: true },
        )
      ).stdout;
      expect(out).toMatch(/\[preflight\] Running pre-flight checks/);
      expect(out).toMatch(/\[WARNING KubeletVersion\]/); // the checks ran and report by name
      return out.split('\n').filter((line) => line.includes('ExternalEtcd'));
    }

    it('passes the kubeadm 1.34 preflight check (ExternalEtcdVersion) that refuses Debian 12 etcd', async () => {
      const l = lab!;
      // The refusal first, for real: bookworm's etcd 3.4.23 (the host's /usr/bin/etcd) on a side port.
      const urls = (port: number) => `http://127.0.0.1:${port}`;
      const pid = (
        await l.exec(
          host.name,
          `setsid nohup /usr/bin/etcd --name debian --data-dir /tmp/etcd-3.4 --listen-client-urls ${urls(2479)} ` +
            `--advertise-client-urls ${urls(2479)} --listen-peer-urls ${urls(2480)} ` +
            `--initial-advertise-peer-urls ${urls(2480)} --initial-cluster debian=${urls(2480)} ` +
            '</dev/null >/var/log/etcd-3.4.log 2>&1 & echo $!',
        )
      ).stdout.trim();
      try {
        await pollUntil(
          async () =>
            (await l.exec(host.name, `/tmp/bin/etcdctl --endpoints=${urls(2479)} endpoint health`, { allowFail: true }))
              .code === 0,
          'Debian etcd 3.4 healthy',
          30_000,
          200,
        );
        expect(await externalEtcdPreflight(urls(2479), false)).toEqual([
          '\t[WARNING ExternalEtcdVersion]: this version of kubeadm only supports external etcd version >= 3.5.24-0. ' +
            'Current version: 3.4.23',
        ]);
      } finally {
        await l.exec(host.name, `kill ${quote(pid)}`, { allowFail: true });
      }
      // Ours, with kubeadm's certificates: no complaint.
      expect(await externalEtcdPreflight(`https://${host.address}:2379`, true)).toEqual([]);
    }, 120_000);

    it("installs with dpkg -i as an upgrade of the host's Debian etcd packages", async () => {
      const l = lab!;
      expect(debs, 'the packaging test runs first').toBeDefined();
      await mkdir(join(hostTmp, 'debs'), { recursive: true });
      const inHost: string[] = [];
      for (const d of debs.debs) {
        await copyFile(d.file, join(hostTmp, 'debs', basename(d.file)));
        inHost.push(`/tmp/debs/${basename(d.file)}`);
      }
      const version = (pkg: string) =>
        l.exec(host.name, `dpkg-query -W -f '\${Version}' ${quote(pkg)}`).then((r) => r.stdout);
      expect(await version('etcd-server')).toMatch(/^3\.4\.23-/);
      const debianFiles =
        'ls -d /lib/systemd/system/etcd.service /etc/init.d/etcd /etc/default/etcd* /etc/rc?.d/*etcd 2>/dev/null';
      expect((await l.exec(host.name, debianFiles, { allowFail: true })).stdout).toMatch(/init\.d\/etcd\n/);

      await l.exec(host.name, shellCommand(['dpkg', '-i', ...inHost]));
      expect(await version('etcd-server')).toBe('3.6.5-0k2h1');
      expect(await version('etcd-client')).toBe('3.6.5-0k2h1');
      // What ensureEtcdInstalled probes: etcd and etcdctl on PATH, the version from `etcd --version`.
      const probe = await l.exec(
        host.name,
        'for b in etcd etcdctl etcdutl; do command -v $b; done; etcd --version; etcdctl version',
      );
      expect(probe.stdout).toMatch(/^\/usr\/bin\/etcd\n\/usr\/bin\/etcdctl\n\/usr\/bin\/etcdutl\n/);
      expect(parseEtcdVersion(probe.stdout)).toBe(ETCD_LAB_VERSION);
      expect(probe.stdout).toMatch(new RegExp(`^etcdctl version: ${ETCD_LAB_VERSION}$`, 'm'));
      // Debian's unit went with its old package, and its init script and /etc/default/etcd (obsolete conffiles
      // dpkg would keep) with our maintainer scripts, rc.d links included: nothing of Debian's can start our etcd.
      expect((await l.exec(host.name, debianFiles, { allowFail: true })).stdout).toBe('');
    }, 120_000);
  });
});
