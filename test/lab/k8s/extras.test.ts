// The lab's non-Kubernetes programs: ensureK8sExtras runs the real scripts/build-k8s-extras.sh (a few minutes cold,
// once per machine; a rerun returns at once). Then each binary does its job for real inside a lab host: CoreDNS
// answers a DNS query from its hosts plugin and its health/ready/metrics endpoints, pause waits and exits 0 on
// SIGTERM, hello serves its greeting and stops cleanly on SIGTERM.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab, type LabHost } from '../../../lab/index.js';
import { hostDir } from '../../../lab/host-files.js';
import { ensureK8sExtras, K8sExtrasBuildError, type K8sExtras } from '../../../lab/k8s/extras.js';
import { quote, shellCommand } from '../../../src/ssh/quote.js';
import { pollUntil } from '../../support/poll.js';

const pexec = promisify(execFile);
const quiet = (): void => {};
// A cold build (CoreDNS) on two shared cores: minutes, not seconds.
const BUILD_TIMEOUT = 60 * 60_000;
// Every plugin kubeadm 1.34's Corefile names (cmd/kubeadm/app/phases/addons/dns/manifests.go).
const KUBEADM_COREFILE_PLUGINS = [
  'errors',
  'health',
  'ready',
  'kubernetes',
  'prometheus',
  'forward',
  'cache',
  'loop',
  'reload',
  'loadbalance',
];

describe('ensureK8sExtras', () => {
  let extras: K8sExtras;
  beforeAll(async () => {
    extras = await ensureK8sExtras({ log: (l) => process.stderr.write(`${l}\n`) });
  }, BUILD_TIMEOUT);

  it('says Go is missing when Go is not on PATH', async () => {
    const lines: string[] = [];
    const err = await ensureK8sExtras({ log: (l) => lines.push(l), env: { PATH: '/usr/bin:/bin' } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(K8sExtrasBuildError);
    expect(String(err)).toMatch(/Go is not on PATH/);
    expect(lines.join('\n')).toMatch(/Go is not on PATH/);
  });

  it('returns the finished cache at once on a rerun, without rebuilding', async () => {
    const marker = join(extras.binDir, '..', '.done');
    const before = (await stat(marker)).mtimeMs;
    const t0 = Date.now();
    const again = await ensureK8sExtras({ log: quiet });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(again).toEqual(extras);
    expect((await stat(marker)).mtimeMs).toBe(before);
    expect(extras.binDir).toMatch(/\/k8s\/extras\/coredns-1\.12\.1_pause-3\.10\.1_[0-9a-f]{12}\/bin$/);
  });

  it('builds static binaries', async () => {
    for (const b of [extras.pause, extras.coredns, extras.hello]) {
      expect((await pexec('file', ['-L', b])).stdout).toMatch(/statically linked/);
    }
  });

  it('coredns is CoreDNS 1.12.1 with every plugin of kubeadm’s Corefile', async () => {
    expect(extras.corednsVersion).toBe('1.12.1');
    const version = (await pexec(extras.coredns, ['-version'])).stdout;
    expect(version.split('\n')[0]).toBe('CoreDNS-1.12.1');
    const plugins = (await pexec(extras.coredns, ['-plugins'])).stdout.split('\n').map((l) => l.trim());
    for (const p of KUBEADM_COREFILE_PLUGINS) expect(plugins, p).toContain(p);
    // The point of a custom build: none of the cloud plugins (and their SDKs) are in it.
    for (const p of ['route53', 'azure', 'clouddns', 'etcd']) expect(plugins).not.toContain(p);
  });

  it('pause -v prints the upstream version string', async () => {
    expect(extras.pauseVersion).toBe('3.10.1');
    expect((await pexec(extras.pause, ['-v'])).stdout).toBe('pause.c v3.10.1\n');
  });

  describe('in a lab host', () => {
    let lab: Lab | undefined;
    let host: LabHost;
    /** The host's /tmp as seen from here. */
    let hostTmp: string;

    beforeAll(async () => {
      lab = await createLab({ hosts: 1 });
      host = lab.hosts[0]!;
      hostTmp = join(hostDir(lab.dir, host.index), 'tmp');
      await mkdir(join(hostTmp, 'bin'), { recursive: true });
      for (const [name, from] of [
        ['pause', extras.pause],
        ['coredns', extras.coredns],
        ['hello', extras.hello],
      ] as const) {
        await copyFile(from, join(hostTmp, 'bin', name));
        await chmod(join(hostTmp, 'bin', name), 0o755);
      }
    }, 120_000);
    afterAll(async () => {
      await lab?.destroy();
    });

    /** Starts argv in the background in the host; /tmp/<name>.pid gets its pid, /tmp/<name>.rc its exit status. */
    async function startDaemon(name: string, argv: string[]): Promise<number> {
      const wrapper = `${shellCommand(argv)} & echo $! >/tmp/${name}.pid; wait $!; echo $? >/tmp/${name}.rc`;
      await lab!.exec(host.name, `setsid sh -c ${quote(wrapper)} >/tmp/${name}.log 2>&1 </dev/null &`);
      const pid = await pollUntil(
        async () => Number((await readFile(join(hostTmp, `${name}.pid`), 'utf8')).trim()),
        `${name} to start`,
        10_000,
      );
      return pid;
    }

    /** SIGTERM to the daemon, then its exit status once it has exited. */
    async function terminate(name: string, pid: number): Promise<number> {
      await lab!.exec(host.name, `kill -TERM ${pid}`);
      const rc = await pollUntil(
        async () => (await readFile(join(hostTmp, `${name}.rc`), 'utf8')).trim(),
        `${name} to exit after SIGTERM`,
        15_000,
      );
      return Number(rc);
    }

    const log = async (name: string): Promise<string> => readFile(join(hostTmp, `${name}.log`), 'utf8').catch(() => '');

    it('coredns answers from its hosts plugin and reports health, readiness and metrics', async () => {
      const answer = lab!.subnet.replace(/\.0\/24$/, '.123');
      const corefile = [
        'lab.test:53 {',
        '    errors',
        '    health',
        `    ready ${host.address}:8181`,
        `    prometheus ${host.address}:9153`,
        '    hosts {',
        `        ${answer} web.lab.test`,
        '    }',
        '}',
        '',
      ].join('\n');
      await writeFile(join(hostTmp, 'Corefile'), corefile);
      const pid = await startDaemon('coredns', ['/tmp/bin/coredns', '-conf', '/tmp/Corefile']);
      let rc = -1;
      try {
        const health = await pollUntil(
          async () => {
            const r = await lab!.exec(host.name, `curl -fsS http://${host.address}:8080/health`, { allowFail: true });
            return r.code === 0 ? r.stdout : undefined;
          },
          'coredns /health',
          20_000,
        ).catch(async (e: unknown) => {
          throw new Error(`${String(e)}\ncoredns log:\n${await log('coredns')}`);
        });
        expect(health).toBe('OK');
        expect((await lab!.exec(host.name, `curl -fsS http://${host.address}:8181/ready`)).stdout).toBe('OK');

        const found = await lab!.exec(host.name, `busybox nslookup web.lab.test ${host.address}`);
        expect(found.stdout).toMatch(
          new RegExp(`Name:\\s+web\\.lab\\.test\\s+Address:\\s+${answer.replace(/\./g, '\\.')}\\b`),
        );
        const missing = await lab!.exec(host.name, `busybox nslookup nope.lab.test ${host.address}`, {
          allowFail: true,
        });
        // Not NXDOMAIN: the hosts plugin has no SOA to put in one, so by design (plugin/hosts/hosts.go) it answers
        // SERVFAIL for a name it does not hold, unless told to fall through.
        expect(missing.code).not.toBe(0);
        expect(missing.stdout + missing.stderr).toMatch(/can't find nope\.lab\.test: SERVFAIL/);

        const metrics = (await lab!.exec(host.name, `curl -fsS http://${host.address}:9153/metrics`)).stdout;
        expect(metrics).toMatch(/^coredns_dns_requests_total\{.*zone="lab\.test\."/m);
      } finally {
        // Stopped even when an assertion failed, so it does not hold ports; a failed stop must not hide that error.
        rc = await terminate('coredns', pid).catch(() => -1);
      }
      expect(rc).toBe(0);
    }, 60_000);

    it('pause waits until SIGTERM and then exits 0', async () => {
      const pid = await startDaemon('pause', ['/tmp/bin/pause']);
      // Still running after it started: it pauses rather than exiting.
      expect((await lab!.exec(host.name, `kill -0 ${pid}`, { allowFail: true })).code).toBe(0);
      expect(await terminate('pause', pid)).toBe(0);
      expect(await log('pause')).toMatch(/Shutting down, got signal: Terminated/);
    }, 30_000);

    it('hello answers with its hostname and address, then exits 0 on SIGTERM', async () => {
      const pid = await startDaemon('hello', ['/tmp/bin/hello']);
      const hostname = (await lab!.exec(host.name, 'hostname')).stdout.trim();
      expect(hostname).toBe(host.name);
      const body = await pollUntil(
        async () => {
          const r = await lab!.exec(host.name, `curl -fsS http://${host.address}:8080/`, { allowFail: true });
          return r.code === 0 ? r.stdout : undefined;
        },
        'hello to answer',
        15_000,
      );
      expect(body).toBe(`hello from ${hostname} ${host.address}\n`);
      expect((await lab!.exec(host.name, `curl -fsS http://${host.address}:8080/healthz`)).stdout).toBe('ok\n');
      const notFound = await lab!.exec(
        host.name,
        `curl -s -o /dev/null -w '%{http_code}' http://${host.address}:8080/x`,
      );
      expect(notFound.stdout).toBe('404');
      expect(await terminate('hello', pid)).toBe(0);
      expect(await log('hello')).toMatch(/signal received, shutting down/);
    }, 30_000);
  });
});
