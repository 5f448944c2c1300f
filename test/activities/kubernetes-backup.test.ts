// backupKubernetesConfig / restoreKubernetesConfig over real SSH on a lab host. The /etc/kubernetes tree is made up
// for this test (no kubeadm ran): real files, modes and owners, a real tar, real sha256sum.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubernetesBackupActivities } from '../../src/activities/kubernetes-backup.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { loadInventory } from '../../src/inventory/index.js';
import { createLab, type Lab } from '../../lab/index.js';
import { targetOf } from '../../src/plan/topology.js';
import type { HostContext } from '../../src/plan/types.js';

let lab: Lab;
let deps: ReturnType<typeof createSshDeps>;
let host: HostContext;
let activities: ReturnType<typeof createKubernetesBackupActivities>;

const tree = async (): Promise<string> =>
  (
    await lab.exec(
      'h1',
      'cd / && find etc/kubernetes var/lib/kubelet/config.yaml -printf "%p %m %u:%g\\n" | sort && ' +
        'find etc/kubernetes var/lib/kubelet/config.yaml -type f | sort | xargs sha256sum',
    )
  ).stdout;

beforeAll(async () => {
  lab = await createLab({ hosts: 1 });
  const inventory = (await loadInventory(await lab.writeInventory())).inventory;
  deps = createSshDeps(sshTrustOf(inventory));
  host = { target: targetOf(inventory.hosts[0]!), ssh: inventory.ssh };
  activities = createKubernetesBackupActivities(deps);
  await lab.exec(
    'h1',
    [
      'mkdir -p /etc/kubernetes/pki/etcd /etc/kubernetes/manifests /var/lib/kubelet',
      'echo "fake-ca-key-for-this-test" > /etc/kubernetes/pki/ca.key && chmod 600 /etc/kubernetes/pki/ca.key',
      'echo "fake-ca-cert" > /etc/kubernetes/pki/ca.crt',
      'echo "apiVersion: v1 # made-up manifest, version 1.33.13" > /etc/kubernetes/manifests/kube-apiserver.yaml',
      'echo "made-up admin kubeconfig" > /etc/kubernetes/admin.conf && chmod 600 /etc/kubernetes/admin.conf',
      'chown nobody:nogroup /etc/kubernetes/pki/etcd',
      'echo "kind: KubeletConfiguration # 1.33" > /var/lib/kubelet/config.yaml',
    ].join(' && '),
  );
});
afterAll(async () => {
  await deps?.close();
  await lab?.destroy();
});

describe('backup of /etc/kubernetes on a master (made-up tree)', () => {
  it('backs up into a 0600 tar on the host and restores it exactly after an upgrade-like change, keeping the changed tree aside', async () => {
    const before = await tree();
    const backup = await activities.backupKubernetesConfig({ host, stamp: '20261202T180000Z' });
    expect(backup).toMatchObject({
      host: 'h1',
      path: '/var/lib/kubeadm2ha/backups/20261202T180000Z.tar',
      included: ['/etc/kubernetes', '/var/lib/kubelet/config.yaml'],
    });
    expect(backup.entries).toBe(9); // 4 dirs, 4 files under /etc/kubernetes, the kubelet config
    const onHost = await lab.exec(
      'h1',
      `stat -c '%a %s' ${backup.path} /var/lib/kubeadm2ha/backups | head -2; sha256sum < ${backup.path}; ls -A /var/lib/kubeadm2ha/backups`,
    );
    expect(onHost.stdout).toBe(`600 ${backup.size}\n700 4096\n${backup.sha256}  -\n20261202T180000Z.tar\n`);

    // What an upgrade does: new manifest, new kubelet config, a new file.
    await lab.exec(
      'h1',
      'echo "apiVersion: v1 # 1.34.12" > /etc/kubernetes/manifests/kube-apiserver.yaml && ' +
        'echo "new" > /etc/kubernetes/pki/new.crt && echo "kind: KubeletConfiguration # 1.34" > /var/lib/kubelet/config.yaml',
    );
    const changed = await tree();
    expect(changed).not.toBe(before);

    const r = await activities.restoreKubernetesConfig({ host, backup, stamp: '20261202T181500Z' });
    expect(r).toEqual({ host: 'h1', previous: '/etc/kubernetes.before-restore-20261202T181500Z', restored: true });
    expect(await tree()).toBe(before);
    expect((await lab.exec('h1', 'cat /etc/kubernetes.before-restore-20261202T181500Z/pki/new.crt')).stdout).toBe(
      'new\n',
    );
    // A retry of the same restore changes nothing more.
    expect((await activities.restoreKubernetesConfig({ host, backup, stamp: '20261202T181500Z' })).restored).toBe(
      false,
    );
    expect(await tree()).toBe(before);

    // The node is upgraded again (retry after the rollback), fails again and is rolled back again in the same run
    // (same stamp): restored again, the second changed tree kept beside the first.
    await lab.exec(
      'h1',
      'echo "apiVersion: v1 # 1.34.12 again" > /etc/kubernetes/manifests/kube-apiserver.yaml && echo "again" > /etc/kubernetes/pki/again.crt',
    );
    expect(await activities.restoreKubernetesConfig({ host, backup, stamp: '20261202T181500Z' })).toEqual({
      host: 'h1',
      previous: '/etc/kubernetes.before-restore-20261202T181500Z.2',
      restored: true,
    });
    expect(await tree()).toBe(before);
    expect((await lab.exec('h1', 'cat /etc/kubernetes.before-restore-20261202T181500Z.2/pki/again.crt')).stdout).toBe(
      'again\n',
    );
    expect((await lab.exec('h1', 'cat /etc/kubernetes.before-restore-20261202T181500Z/pki/new.crt')).stdout).toBe(
      'new\n',
    );
    expect((await activities.restoreKubernetesConfig({ host, backup, stamp: '20261202T181500Z' })).restored).toBe(
      false,
    );
  });

  it('refuses a backup whose checksum does not match and leaves /etc/kubernetes alone', async () => {
    const backup = await activities.backupKubernetesConfig({ host, stamp: '20261202T182000Z' });
    const before = await tree();
    await lab.exec('h1', `echo extra >> ${backup.path}`);
    await expect(activities.restoreKubernetesConfig({ host, backup, stamp: '20261202T182500Z' })).rejects.toThrow(
      /checksum differs, not restored/,
    );
    expect(await tree()).toBe(before);
    expect(
      (await lab.exec('h1', 'ls -d /etc/kubernetes.before-restore-20261202T182500Z', { allowFail: true })).code,
    ).not.toBe(0);
    await expect(
      activities.restoreKubernetesConfig({
        host,
        backup: { ...backup, path: '/etc/shadow' },
        stamp: '20261202T182500Z',
      }),
    ).rejects.toThrow(/not a kubeadm2ha backup/);
  });
});
