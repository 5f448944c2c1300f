// A real kubelet (1.34.12, built from Go modules) as a systemd unit in an nspawn host, with the systemd cgroup
// driver and containerd configured by our template (SystemdCgroup = true). Standalone (no API server: kubeadm init
// on nspawn hosts is not done yet), so "runs" means: the unit stays active, its ContainerManager started (the QoS
// slices exist in every v1 controller of the host's own cgroup), /healthz answers ok. The sysctls the kubelet
// wants are stand-ins in the guest (src/lab/nspawn/kubelet.ts); the machine's own values must not move.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectServiceManager } from '../../../src/activities/services/index.js';
import { Inventory, SshSettings } from '../../../src/inventory/schema.js';
import { ensureK8sBinaries, K8S_LAB_VERSIONS } from '../../../src/lab/k8s-binaries.js';
import { cgroupName } from '../../../src/lab/nspawn/cgroups.js';
import { createNspawnLab, type NspawnLab } from '../../../src/lab/nspawn/index.js';
import { KUBELET_SYSCTL_STAND_INS, prepareKubeletHost } from '../../../src/lab/nspawn/kubelet.js';
import { SshPool } from '../../../src/ssh/index.js';
import { CONTAINERD_CONFIG, renderContainerdConfig } from '../../../src/templates/containerd.js';
import { pollUntil } from '../../support/poll.js';

const K8S_BIN = '/opt/kubeadm2ha/k8s/bin';
let lab: NspawnLab;
let pool: SshPool;
const machineSysctls = (): string[] =>
  Object.keys(KUBELET_SYSCTL_STAND_INS).map((k) => readFileSync(`/proc/sys/${k}`, 'utf8').trim());
let before: string[];

beforeAll(async () => {
  before = machineSysctls();
  const { binDir } = await ensureK8sBinaries(K8S_LAB_VERSIONS.current);
  lab = await createNspawnLab({ hosts: 1, bindReadOnly: { [K8S_BIN]: binDir } });
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
});
