// A real kubelet (1.34.12, built from Go modules) as a systemd unit in an nspawn host, with the systemd cgroup
// driver and containerd configured by our template (SystemdCgroup = true). Standalone (no API server: kubeadm init
// on nspawn hosts is not done yet), so "runs" means: the unit stays active, its ContainerManager started (the QoS
// slices exist in every v1 controller of the host's own cgroup), /healthz answers ok. The sysctls the kubelet
// wants are stand-ins in the guest (lab/nspawn/kubelet.ts); the machine's own values must not move.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectServiceManager } from '../../../src/activities/services/index.js';
import { Inventory, SshSettings } from '../../../src/inventory/schema.js';
import { ensureK8sBinaries, K8S_LAB_VERSIONS } from '../../../lab/k8s-binaries.js';
import { ensureK8sExtras } from '../../../lab/k8s/extras.js';
import { ensureK8sImages } from '../../../lab/k8s/images.js';
import { cgroupName } from '../../../lab/nspawn/cgroups.js';
import { createNspawnLab, type NspawnLab } from '../../../lab/nspawn/index.js';
import { KUBELET_SYSCTL_STAND_INS, prepareKubeletHost } from '../../../lab/nspawn/kubelet.js';
import { SshPool } from '../../../src/ssh/index.js';
import { CONTAINERD_CONFIG, renderContainerdConfig } from '../../../src/templates/containerd.js';
import { pollUntil } from '../../support/poll.js';

const K8S_BIN = '/opt/kubeadm2ha/k8s/bin';
const HELLO_OCI = '/opt/kubeadm2ha/hello-oci';
let lab: NspawnLab;
let pool: SshPool;
const machineSysctls = (): string[] =>
  Object.keys(KUBELET_SYSCTL_STAND_INS).map((k) => readFileSync(`/proc/sys/${k}`, 'utf8').trim());
let before: string[];

beforeAll(async () => {
  before = machineSysctls();
  const { binDir } = await ensureK8sBinaries(K8S_LAB_VERSIONS.current);
  // The lab's test workload (an HTTP server), as an OCI layout built from its binary (cached).
  const extras = await ensureK8sExtras();
  const images = await ensureK8sImages(K8S_LAB_VERSIONS.current, { binDir, extras, only: ['hello'] });
  const hello = images.images.find((i) => i.name === 'hello')!;
  lab = await createNspawnLab({ hosts: 1, bindReadOnly: { [K8S_BIN]: binDir, [HELLO_OCI]: hello.layoutDir } });
  pool = new SshPool(SshSettings.parse(Inventory.parse(lab.inventory()).ssh));
});

afterAll(async () => {
  try {
    await pool?.closeAll();
  } finally {
    await lab?.destroy();
  }
  // Also after teardown: nothing the kubelet did leaked to the machine.
  if (before) expect(machineSysctls()).toEqual(before);
});

describe('kubelet on an nspawn host (real systemd, systemd cgroup driver)', () => {
  it('runs as a systemd unit: ContainerManager up, QoS slices in the host cgroup, /healthz ok', async () => {
    const h = lab.hosts[0]!;
    const session = pool.session({ name: h.name, address: h.address });
    await session.putFile(
      CONTAINERD_CONFIG,
      renderContainerdConfig({
        cgroupDriver: 'systemd',
        sandboxImage: 'registry.k8s.io/pause:3.10.1',
        restrictOomScoreAdj: true,
        cniBinDir: '/usr/lib/cni',
      }),
      { mode: 0o644 },
    );
    await prepareKubeletHost(lab, h.name);
    const manager = await detectServiceManager(session);
    expect(manager.kind).toBe('systemd');
    await manager.restart('containerd');
    await session.putFile(
      '/var/lib/kubelet/config.yaml',
      [
        'apiVersion: kubelet.config.k8s.io/v1beta1',
        'kind: KubeletConfiguration',
        'cgroupDriver: systemd',
        'containerRuntimeEndpoint: unix:///run/containerd/containerd.sock',
        'staticPodPath: /etc/kubernetes/manifests',
        `address: ${h.address}`,
        'healthzBindAddress: 127.0.0.1',
        'authentication: {anonymous: {enabled: false}, webhook: {enabled: false}}',
        'authorization: {mode: AlwaysAllow}',
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
    await session.run(['mkdir', '-p', '/etc/kubernetes/manifests']);
    await manager.install({
      name: 'kubelet',
      description: 'kubelet (standalone, nspawn lab)',
      command: [`${K8S_BIN}/kubelet`, '--config=/var/lib/kubelet/config.yaml', `--node-ip=${h.address}`],
    });
    await manager.start('kubelet');
    const healthz = await pollUntil(
      async () => {
        const r = await lab.exec(h.name, 'curl -sf --max-time 2 http://127.0.0.1:10248/healthz', { allowFail: true });
        return r.stdout.trim() === 'ok' && r.stdout.trim();
      },
      'kubelet /healthz',
      60_000,
    );
    expect(healthz).toBe('ok');
    const log = (await lab.exec(h.name, 'journalctl -u kubelet --no-pager')).stdout;
    expect(log).not.toContain('Failed to start ContainerManager');
    // The QoS cgroups, created through the guest's systemd, are inside this host's own subtree of the machine's
    // v1 hierarchies, and nowhere else.
    const own = (c: string): string => `/sys/fs/cgroup/${c}/${cgroupName(lab.id, 1)}/kubepods.slice`;
    const controllers = ['cpu', 'memory', 'pids'];
    // (ContainerManager makes them just after /healthz first answers: waited for, bounded.)
    await pollUntil(
      () => controllers.every((c) => existsSync(own(c))),
      'kubepods.slice in the host cgroup',
      30_000,
    ).catch(() => undefined);
    expect(controllers.filter((c) => !existsSync(own(c)))).toEqual([]);
    expect(controllers.filter((c) => existsSync(`/sys/fs/cgroup/${c}/kubepods.slice`))).toEqual([]);
    expect(await manager.isActive('kubelet')).toBe(true);
    expect(Number((await lab.exec(h.name, 'systemctl show -p NRestarts --value kubelet')).stdout)).toBe(0);
    expect(machineSysctls()).toEqual(before);
  });

  it('runc starts a container in a systemd scope of the guest (SystemdCgroup), as the CRI will for pods', async () => {
    const r = await lab.exec(
      'h1',
      `tar -C ${HELLO_OCI} -cf - . | ctr -n k8s.io images import --index-name k2h/hello:1 - >/dev/null && ` +
        'ctr -n k8s.io run -d --runc-systemd-cgroup --cgroup system.slice:k2h:hello k2h/hello:1 hello >/dev/null && ' +
        'ctr -n k8s.io task ls',
    );
    expect(r.stdout).toMatch(/hello\s+\d+\s+RUNNING/);
    // The container's processes are in the scope systemd made for it, inside this host's own cgroup.
    const pid = /hello\s+(\d+)\s+RUNNING/.exec(r.stdout)![1]!;
    const own = cgroupName(lab.id, 1);
    expect((await lab.exec('h1', `cat /proc/${pid}/cgroup`)).stdout).toContain(
      `:pids:/${own}/system.slice/k2h-hello.scope\n`,
    );
    expect(existsSync(`/sys/fs/cgroup/pids/${own}/system.slice/k2h-hello.scope`)).toBe(true);
    await lab.exec(
      'h1',
      'ctr -n k8s.io task kill -s KILL hello; ctr -n k8s.io task rm -f hello; ctr -n k8s.io c rm hello',
    );
  });
});
