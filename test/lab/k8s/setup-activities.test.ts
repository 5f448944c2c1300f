// Issue 11's groundwork on the real-Kubernetes lab: the setup ACTIVITIES, called directly as functions with real
// dependencies (SSH pool, local PKI store, no workflow), build what proof.test.ts builds by plain commands — 2
// masters with external etcd (on all three hosts) and 1 worker, keepalived VIP, haproxy on VIP:8443 — then every
// activity runs again and changes nothing (results and file checksums/mtimes), no result carries a secret, and the
// uninstall activities leave the hosts clean. Nothing stands in for anything: real kubeadm, kubelet, containerd,
// etcd, keepalived and haproxy.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities/index.js';
import { createSshDeps } from '../../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../../src/activities/ssh-trust.js';
import { createClusterPkiActivities } from '../../../src/activities/cluster-pki.js';
import { createKubeApiActivities } from '../../../src/activities/kube-api.js';
import { createPkiActivities } from '../../../src/activities/pki.js';
import { LocalPkiStore } from '../../../src/activities/pki-store.js';
import { Inventory } from '../../../src/inventory/schema.js';
import { createK8sLab, type K8sLab } from '../../../lab/k8s/k8s-lab.js';
import {
  joinSettings,
  keepalivedSettings,
  kubeadmClusterSettings,
  kubeadmNode,
  loadBalancerSettings,
  sandboxImage,
} from '../../../src/plan/cluster-config.js';
import { planEtcdSetup } from '../../../src/plan/etcd.js';
import { targetOf } from '../../../src/plan/topology.js';
import type { HostContext } from '../../../src/plan/types.js';
import { planClusterCas } from '../../../src/plan/pki.js';
import { renderInitConfiguration, renderJoinConfiguration } from '../../../src/templates/kubeadm.js';
import { nodeStates, vipReadyz } from '../../support/k8s-cluster.js';
import { labShell } from '../../support/lab-shell.js';
import { pollUntil } from '../../support/poll.js';

let lab: K8sLab;
let inv: Inventory;
let dir: string;
let deps: ReturnType<typeof createSshDeps>;
let acts: ReturnType<typeof createActivities>;
const timings: Record<string, number> = {};
const results: unknown[] = [];
const keep = process.env.KUBEADM2HA_KEEP_LAB === '1';
const sh = (host: string, cmd: string): Promise<string> => labShell(lab)(host, cmd);

async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const v = await f();
  timings[what] = Math.round(performance.now() - t0) / 1000;
  results.push(v);
  return v;
}

const ctx = (name: string): HostContext => ({
  target: targetOf(inv.hosts.find((h) => h.name === name)!),
  ssh: inv.ssh,
});
const host = (name: string) => inv.hosts.find((h) => h.name === name)!;
const names = ['h1', 'h2', 'h3'];
const masterNames = ['h1', 'h2'];

// Files the setup writes, per host: their checksums and mtimes must not move on a rerun.
const WATCHED = [
  '/etc/modules-load.d/kubeadm2ha.conf',
  '/etc/sysctl.d/99-kubeadm2ha.conf',
  '/etc/containerd/config.toml',
  '/etc/kubernetes/pki/ca.crt',
  '/etc/kubernetes/pki/ca.key',
  '/etc/kubernetes/pki/sa.key',
  '/etc/kubernetes/pki/front-proxy-ca.key',
  '/etc/kubernetes/pki/etcd/ca.crt',
  '/etc/keepalived/keepalived.conf',
  '/etc/keepalived/check_apiserver.sh',
  '/etc/haproxy/haproxy.cfg',
  '/etc/kubernetes/kubeadm2ha/kubeadm-init.yaml',
  '/etc/kubernetes/manifests/kube-apiserver.yaml',
  '/etc/kubernetes/kubelet.conf',
  '/etc/etcd/etcd.conf.yml',
];
const snapshot = async (name: string): Promise<string> =>
  sh(
    name,
    `for f in ${WATCHED.join(' ')}; do [ -f "$f" ] && echo "$(stat -c '%Y.%y %a' "$f") $(sha256sum < "$f" | cut -c1-16) $f"; done; true`,
  );

beforeAll(async () => {
  lab = await createK8sLab({ hosts: 3, detached: keep });
  dir = await mkdtemp(join(tmpdir(), 'k2h-setup-'));
  const k = lab.kubernetes;
  inv = Inventory.parse(
    lab.inventory({
      cluster: {
        // The lab's hosts are network namespaces: cgroupfs (no systemd), no CAP_SYS_RESOURCE for runc, the machine's
        // nf_conntrack_max read-only, and a /28 of pods per host in the lab's /24 (see lab/k8s/README.md).
        network: { plugin: 'none' },
        nodeCidrMaskSize: 28,
        containerRuntime: {
          cgroupDriver: 'cgroupfs',
          restrictOomScoreAdj: true,
          registries: [{ host: k.registry, endpoints: [`http://${k.registry}`] }],
        },
        kubeProxy: { conntrackMaxPerCore: 0 },
        loadBalancer: { kind: 'haproxy', port: 8443 },
      },
      hosts: lab.hosts.map((h) => ({
        name: h.name,
        address: h.address,
        roles:
          h.index === 1
            ? ['primary-master', 'etcd']
            : h.index === 2
              ? ['secondary-master', 'etcd']
              : ['worker', 'etcd'],
      })),
    }),
  );
  deps = createSshDeps(sshTrustOf(inv));
  const store = (c: string) => new LocalPkiStore(join(dir, c, 'pki'));
  acts = {
    ...createActivities(deps),
    ...createPkiActivities(deps, { store }),
    ...createClusterPkiActivities(deps, { store }),
    ...createKubeApiActivities(deps, { kubeconfigPath: (c) => join(dir, c, 'admin.conf') }),
  };
}, 3_600_000);

afterAll(async () => {
  process.stderr.write(
    `[setup activities] timings (s): ${JSON.stringify({ ...lab?.kubernetes.timings, ...timings })}\n`,
  );
  await deps?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (keep) process.stderr.write(`[setup activities] lab ${lab?.id} kept: ssh -F ${lab?.sshConfigPath} h1\n`);
  else await lab?.destroy();
});

/** All setup steps, in order; `round` names the timings (first run vs rerun). */
async function setup(round: string): Promise<void> {
  const t0 = performance.now();
  const all = <T>(hosts: string[], f: (h: string) => Promise<T>) => Promise.all(hosts.map(f));
  const cluster = inv.cluster.name;
  // swapOffNow: false — swap is machine-wide, a lab host must not turn off the machine's (the lab has none anyway).
  await timed(`${round} os`, () => all(names, (h) => acts.prepareNodeOs({ host: ctx(h), swapOffNow: false })));
  await timed(`${round} packages`, () =>
    all(names, (h) => acts.installKubePackages({ host: ctx(h), version: inv.cluster.kubernetesVersion, hold: true })),
  );
  await timed(`${round} containerd`, () =>
    all(names, (h) =>
      acts.configureContainerd({
        host: ctx(h),
        settings: {
          cgroupDriver: inv.cluster.containerRuntime.cgroupDriver,
          sandboxImage: sandboxImage(inv),
          restrictOomScoreAdj: inv.cluster.containerRuntime.restrictOomScoreAdj,
        },
        registries: inv.cluster.containerRuntime.registries,
      }),
    ),
  );
  const etcd = planEtcdSetup(inv);
  await timed(`${round} etcd`, async () => {
    const ca = await acts.ensureEtcdCa({ cluster, ca: etcd.ca });
    const out = await all(names, async (h) => {
      const installed = await acts.ensureEtcdInstalled({
        host: ctx(h),
        version: etcd.version,
        ...(etcd.mirror && { mirror: etcd.mirror }),
      });
      const certs = await acts.ensureHostCertificates({
        host: ctx(h),
        cluster,
        plan: etcd.pki.find((p) => p.host === h)!,
        caFingerprints: { 'etcd-ca': ca.sha256Fingerprint },
      });
      const member = etcd.members.find((m) => m.target.name === h)!;
      const config = await acts.configureEtcd({ host: ctx(h), member: member.config, binary: installed.binary });
      const running = await acts.ensureEtcdRunning({
        host: ctx(h),
        binary: installed.binary,
        restartIfRunning: certs.changed.length + config.changed.length > 0,
      });
      return { installed, certs, config, running };
    });
    const health = await acts.waitEtcdHealthy({
      members: etcd.members.map((m) => ({ host: ctx(m.target.name), plan: m })),
      tls: etcd.healthcheckClient,
      timeoutSeconds: 60,
    });
    expect(health.healthy).toBe(true);
    return out;
  });
  await timed(`${round} cluster pki`, async () => {
    const p = planClusterCas(inv);
    const cas = await acts.ensureClusterCas({
      cluster,
      cas: p.cas.filter((c) => c.name !== 'etcd-ca'),
      serviceAccountKeyType: p.serviceAccount.keyType,
    });
    const fps = Object.fromEntries(cas.cas.map((c) => [c.name, c.sha256Fingerprint]));
    return [cas, await all(masterNames, (h) => acts.placeClusterPki({ host: ctx(h), cluster, caFingerprints: fps }))];
  });
  await timed(`${round} vip + lb`, async () => {
    const out = await all(masterNames, async (h) => [
      await acts.configureKeepalived({ host: ctx(h), settings: keepalivedSettings(inv, host(h)) }),
      await acts.configureLoadBalancer({ host: ctx(h), kind: 'haproxy', settings: loadBalancerSettings(inv) }),
    ]);
    await pollUntil(
      async () => (await sh('h1', 'ip -4 -o addr show dev eth0')).includes(` ${lab.vip}/24 `),
      'the VIP on h1',
      30_000,
      100,
    );
    return out;
  });
  const settings = kubeadmClusterSettings(inv);
  await timed(`${round} kubeadm init`, () =>
    acts.kubeadmInit({ host: ctx('h1'), config: renderInitConfiguration(settings, kubeadmNode(host('h1'))) }),
  );
  await timed(`${round} kubeconfig`, () => acts.fetchAdminKubeconfig({ via: ctx('h1'), cluster }));
  await timed(`${round} join h2 (control plane)`, () =>
    acts.joinNode({
      primary: ctx('h1'),
      host: ctx('h2'),
      controlPlane: true,
      config: renderJoinConfiguration(joinSettings(inv, host('h2'), true)),
    }),
  );
  await timed(`${round} join h3 (worker)`, () =>
    acts.joinNode({
      primary: ctx('h1'),
      host: ctx('h3'),
      controlPlane: false,
      config: renderJoinConfiguration(joinSettings(inv, host('h3'), false)),
    }),
  );
  await timed(`${round} coredns`, () => acts.scaleCoreDns({ via: ctx('h1'), cluster, replicas: masterNames.length }));
  await timed(`${round} nodes Ready`, () =>
    acts.waitNodesReady({ via: ctx('h1'), cluster, nodes: names, timeoutSeconds: 180 }),
  );
  timings[`${round} total`] = Math.round(performance.now() - t0) / 1000;
}

describe('the setup activities on the real-Kubernetes lab (2 masters + 1 worker, external etcd, VIP, haproxy)', () => {
  it('build the cluster from bare hosts: all nodes Ready, the API through the VIP and through haproxy on 8443', async () => {
    await setup('first');
    expect(await nodeStates(lab)).toEqual(['h1 Ready', 'h2 Ready', 'h3 Ready']);
    // Through the VIP to an apiserver, and through the VIP to haproxy to an apiserver.
    expect(await vipReadyz(lab, 'h3', 6443)).toBe('ok');
    expect(await vipReadyz(lab, 'h3', 8443)).toBe('ok');
    // The stored kubeconfig names the LB endpoint, and kubectl with it (from the store, via stdin) answers.
    const out = await acts.runKubectl({
      via: ctx('h2'),
      cluster: inv.cluster.name,
      args: ['config', 'view', '-o', 'jsonpath={.clusters[0].cluster.server}'],
    });
    expect(out.stdout).toBe(`https://${lab.vip}:8443`);
    const ns = await acts.runKubectl({
      via: ctx('h3'),
      cluster: inv.cluster.name,
      args: ['get', 'ns', 'kube-system', '-o', 'name'],
    });
    expect(ns.stdout).toBe('namespace/kube-system\n');
    expect((await stat(join(dir, inv.cluster.name, 'admin.conf'))).mode & 0o777).toBe(0o600);
    // Our CA signs the cluster: the apiserver's certificate chains to the store's CA.
    const storeCa = await new LocalPkiStore(join(dir, inv.cluster.name, 'pki')).readCa('ca');
    expect(await sh('h2', 'cat /etc/kubernetes/pki/ca.crt')).toBe(storeCa!.certPem);
    // Packages pinned and held; CoreDNS scaled to the masters.
    expect(await sh('h3', 'apt-mark showhold | sort | tr "\\n" " "')).toBe('kubeadm kubectl kubelet ');
    expect(
      await sh(
        'h1',
        "kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system get deploy coredns -o jsonpath='{.spec.replicas}'",
      ),
    ).toBe('2');
    // The join file with the token is gone from the joiners; the token it used is deleted.
    expect(await sh('h2', 'ls /etc/kubernetes/kubeadm2ha/ 2>/dev/null; true')).toBe('');
    const tokens = await sh('h1', 'kubeadm token list -o jsonpath="{.description}{\\"\\\\n\\"}" 2>/dev/null; true');
    expect(tokens).not.toMatch(/kubeadm2ha join/);
  }, 900_000);

  it('a second run changes nothing: every result says so, no file checksum or mtime moved, no daemon restarted', async () => {
    const before = await Promise.all(names.map(snapshot));
    const pidsBefore = await Promise.all(
      masterNames.map((h) => sh(h, 'cat /run/keepalived.pid /run/haproxy.pid /run/containerd.pid /run/etcd.pid')),
    );
    const firstCount = results.length;
    await setup('rerun');
    const rerun = JSON.stringify(results.slice(firstCount));
    expect(rerun).not.toMatch(/"changed":\[[^\]]/); // every changed list is empty
    expect(rerun).not.toMatch(/"changed":true/);
    expect(rerun).not.toMatch(/"(initialized|joined|installed|created|serviceAccountCreated)":true/);
    expect(rerun).not.toMatch(/"action":"(started|restarted)"/);
    expect(rerun).not.toMatch(/"issued":\[[^\]]/);
    expect(await Promise.all(names.map(snapshot))).toEqual(before);
    expect(before[0]!.split('\n').length).toBeGreaterThan(12); // the snapshot saw the files it should
    expect(
      await Promise.all(
        masterNames.map((h) => sh(h, 'cat /run/keepalived.pid /run/haproxy.pid /run/containerd.pid /run/etcd.pid')),
      ),
    ).toEqual(pidsBefore);
  }, 900_000);

  it("a joined node whose Node lacks its CRI socket record (a join cut short before kubeadm wrote it) gets it from joinNode's rerun", async () => {
    const ADMIN = 'kubectl --kubeconfig /etc/kubernetes/admin.conf';
    const annotation = async (): Promise<string> =>
      sh(
        'h1',
        `${ADMIN} get node h3 -o jsonpath='{.metadata.annotations.kubeadm\\.alpha\\.kubernetes\\.io/cri-socket}'`,
      );
    // 1.34's join keeps the socket in the kubelet's instance config instead; 1.33's in the annotation. Neither here:
    // what `kubeadm upgrade node` then refuses ("node h3 doesn't have kubeadm.alpha.kubernetes.io/cri-socket
    // annotation, or kubelet instance config /var/lib/kubelet/instance-config.yaml").
    const local = '/var/lib/kubelet/instance-config.yaml';
    const hadLocal = (await sh('h3', `[ -f ${local} ] && echo yes || true`)).trim() === 'yes';
    if (hadLocal) await sh('h3', `mv ${local} ${local}.aside`);
    await sh('h1', `${ADMIN} annotate node h3 kubeadm.alpha.kubernetes.io/cri-socket- >/dev/null`);
    expect(await annotation()).toBe('');
    const join = () =>
      acts.joinNode({
        primary: ctx('h1'),
        host: ctx('h3'),
        controlPlane: false,
        config: renderJoinConfiguration(joinSettings(inv, host('h3'), false)),
      });
    expect(await join()).toMatchObject({ host: 'h3', joined: false, criSocketRecorded: true });
    expect(await annotation()).toBe('unix:///run/containerd/containerd.sock');
    // Recorded once: the next run finds it.
    expect((await join()).criSocketRecorded).toBeUndefined();
    if (hadLocal) {
      await sh('h3', `mv ${local}.aside ${local}`);
      await sh('h1', `${ADMIN} annotate node h3 kubeadm.alpha.kubernetes.io/cri-socket- >/dev/null`);
    }
  }, 300_000);

  it('no activity result carries a secret (token, certificate key, private key, kubeconfig credentials)', () => {
    const all = JSON.stringify(results);
    expect(all).not.toMatch(/[a-z0-9]{6}\.[a-z0-9]{16}/);
    expect(all).not.toMatch(/PRIVATE KEY/);
    expect(all).not.toMatch(/client-key-data|certificate-authority-data/);
    expect(all).not.toMatch(/\b[0-9a-f]{64}\b(?![^"]*"\s*[,}])/); // hex64 only as a fingerprint value (no key)
  });

  it('uninstall: kubeadm reset (external etcd), daemons, etcd data and packages removed; a second uninstall finds nothing', async () => {
    const etcdPlan = planEtcdSetup(inv);
    const uninstall = async () => {
      const out = [];
      for (const h of ['h3', 'h2', 'h1']) {
        await lab.stopKubelet(h); // the lab's "systemctl stop kubelet" (no systemd in a namespace host)
        out.push(await acts.resetNode({ host: ctx(h), externalEtcd: true, removePackages: true }));
        out.push(
          await acts.removeDaemons({
            host: ctx(h),
            keepalived: masterNames.includes(h),
            loadBalancer: masterNames.includes(h),
            etcd: {
              dataDir: etcdPlan.members.find((m) => m.target.name === h)!.config.dataDir,
              configPath: '/etc/etcd/etcd.conf.yml',
            },
          }),
        );
      }
      return out;
    };
    const first = await timed('uninstall', uninstall);
    expect(first.flatMap((r) => r.removed)).toEqual(
      expect.arrayContaining([
        'kubeadm reset',
        'package:kubeadm',
        '/etc/haproxy/haproxy.cfg',
        '/etc/keepalived/keepalived.conf',
      ]),
    );
    for (const h of names) {
      expect(
        await sh(
          h,
          'ls -A /etc/kubernetes/manifests 2>/dev/null; ls /etc/kubernetes/*.conf 2>/dev/null; command -v kubeadm; ls /var/lib/etcd 2>/dev/null; true',
        ),
      ).toBe('');
      expect(await sh(h, 'pgrep -x "kubelet|kube-apiserver|etcd|keepalived|haproxy" || true')).toBe('');
    }
    const second = await timed('uninstall again', uninstall);
    expect(second.flatMap((r) => r.removed)).toEqual([]);
  }, 600_000);
});
