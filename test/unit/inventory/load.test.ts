// Good inventories: our YAML example, the seed-style INI examples, Ansible's precedence, and the
// INI → YAML conversion loading back to the same inventory.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory, readInventorySource, toYaml, validateSource } from '../../../src/inventory/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = join(root, 'test/fixtures/inventory');
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'k2h-inventory-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('our YAML format', () => {
  it('loads examples/inventory.yaml with defaults filled in and no warnings', async () => {
    const { inventory, warnings, sourceFiles } = await loadInventory(join(root, 'examples/inventory.yaml'));
    expect(warnings).toEqual([]);
    expect(sourceFiles).toEqual([join(root, 'examples/inventory.yaml')]);
    expect(inventory.cluster).toMatchObject({
      name: 'my-cluster',
      kubernetesVersion: '1.32.4',
      vip: { address: '192.168.0.50', prefixLength: 24, interface: 'eth0', virtualRouterId: 51 },
      loadBalancer: { kind: 'haproxy', port: 8443 },
      etcd: { mode: 'external', version: '3.5.16' },
    });
    expect(inventory.hosts.map((h) => [h.name, h.roles])).toEqual([
      ['master-1', ['primary-master', 'etcd']],
      ['master-2', ['secondary-master', 'etcd']],
      ['master-3', ['secondary-master', 'etcd']],
      ['worker-1', ['worker']],
      ['worker-2', ['worker']],
    ]);
    expect(inventory.hosts[4]?.ssh).toEqual({ port: 2222 });
  });

  it('strips a leading v from kubernetesVersion and applies schema defaults', async () => {
    const file = join(tmp, 'minimal.yaml');
    await writeFile(
      file,
      'cluster: {name: lab, kubernetesVersion: v1.31.0, vip: {address: 10.200.0.100}}\nhosts:\n  - {name: h1, address: 10.200.0.11, roles: [primary-master, etcd]}\n',
    );
    const { inventory } = await loadInventory(file);
    expect(inventory.cluster.kubernetesVersion).toBe('1.31.0');
    expect(inventory.ssh).toMatchObject({ user: 'root', port: 22, hostKeyPolicy: 'strict' });
    expect(inventory.cluster.podSubnet).toBe('10.244.0.0/16');
  });

  it('finds a pod network manifest named relative to the inventory next to the inventory file', async () => {
    const file = join(tmp, 'manifest.yaml');
    const cluster = (manifest: string) =>
      `cluster: {name: lab, kubernetesVersion: 1.34.1, vip: {address: 10.200.0.100}, network: {plugin: manifest, manifest: ${manifest}}}\n` +
      'hosts:\n  - {name: h1, address: 10.200.0.11, roles: [primary-master, etcd]}\n';
    await writeFile(file, cluster('cni/calico.yaml'));
    expect((await loadInventory(file)).inventory.cluster.network.manifest).toBe(join(tmp, 'cni/calico.yaml'));
    await writeFile(file, cluster('/srv/calico.yaml'));
    expect((await loadInventory(file)).inventory.cluster.network.manifest).toBe('/srv/calico.yaml');
  });

  it('accepts anchors and merge keys', async () => {
    const { inventory } = await loadInventory(join(fixtures, 'yaml/anchors.yaml'));
    expect(inventory.hosts[2]).toEqual({ name: 'h3', address: '10.200.0.13', roles: ['worker'], ssh: { port: 2222 } });
  });

  it('reports every problem of a file at once, sorted by position', async () => {
    const file = join(tmp, 'many.yaml');
    await writeFile(
      file,
      [
        'cluster:',
        '  name: Lab',
        "  kubernetesVersion: '1.20.1'",
        '  vip: {address: 10.1.0.100}',
        'hosts:',
        '  - {name: h1, address: 10.200.0.11, roles: [primary-master]}',
        '  - {name: h1, address: 10.200.0.11, roles: [primary-master], extra: 1}',
        '',
      ].join('\n'),
    );
    const err = (await loadInventory(file).catch((e: unknown) => e)) as {
      issues: { line: number; field: string }[];
      message: string;
    };
    expect(err.issues.map((i) => `${i.line} ${i.field}`)).toEqual([
      '2 cluster.name',
      '3 cluster.kubernetesVersion',
      '4 cluster.vip.address',
      '7 hosts[1].extra',
    ]);
    expect(err.message).toMatch(/^inventory is invalid \(4 problems\):\n {2}\S+many\.yaml:2:9 cluster\.name: /);
  });
});

describe('Ansible INI inventory with group_vars', () => {
  it('reads examples/ansible like the seed playbooks would', async () => {
    const { inventory, warnings, sourceFiles } = await loadInventory(join(root, 'examples/ansible'));
    expect(sourceFiles.map((f) => f.slice(root.length))).toEqual([
      'examples/ansible/hosts',
      'examples/ansible/group_vars/all.yaml',
      'examples/ansible/group_vars/my-cluster.yaml',
    ]);
    expect(inventory).toEqual({
      // No seed setting for it: the logging addon's defaults (the seed's 3 days on hot).
      addons: { logging: { hotDays: 3, warmDays: 30 } },
      cluster: {
        name: 'my-cluster',
        kubernetesVersion: '1.32.4',
        podSubnet: '10.244.0.0/16',
        serviceSubnet: '10.96.0.0/12',
        dnsDomain: 'cluster.local',
        imageRepository: 'registry.k8s.io',
        // interface: from the `kubeadm2ha:` map in group_vars/my-cluster.yaml
        vip: { address: '192.168.0.50', prefixLength: 24, interface: 'ens192', virtualRouterId: 51 },
        loadBalancer: { kind: 'haproxy', port: 8443 },
        etcd: { mode: 'external', version: '3.5.16' },
        // NETWORK_PLUGIN: flannel in group_vars/all.yaml
        network: { plugin: 'flannel' },
        containerRuntime: { kind: 'containerd', cgroupDriver: 'systemd', registries: [], restrictOomScoreAdj: false },
        // air-gapped hosts: `kubeadm2ha: {cluster: {images: {airGapped: true}}}` in group_vars
        images: { airGapped: false },
        kubeProxy: {},
        packages: { hold: true },
        pki: { keyType: 'ecdsa-p256', caValidityDays: 3650, certValidityDays: 365 },
      },
      ssh: expect.objectContaining({
        user: 'root',
        port: 22,
        identityFile: '~/.ssh/id_ed25519',
        sudo: false,
      }) as unknown,
      hosts: [
        { name: 'my-cluster-master-1', address: '192.168.0.51', roles: ['primary-master', 'etcd'] },
        { name: 'my-cluster-master-2', address: '192.168.0.52', roles: ['secondary-master', 'etcd'] },
        { name: 'my-cluster-master-3', address: '192.168.0.53', roles: ['secondary-master', 'etcd'] },
        { name: 'my-cluster-minion-1', address: '192.168.0.56', roles: ['worker'] },
        { name: 'my-cluster-minion-2', address: '192.168.0.57', roles: ['worker'], ssh: { port: 2222 } },
        { name: 'my-cluster-minion-3', address: '192.168.0.58', roles: ['worker'] },
      ],
    });
    // Nothing dropped silently: each seed-only setting is named with where it is.
    expect(warnings.map((w) => `${w.file?.slice(root.length)}:${w.line} ${w.field}`)).toEqual([
      'examples/ansible/group_vars/all.yaml:9 HOST_ARCH',
      'examples/ansible/group_vars/all.yaml:10 MASTER_READY_WAIT_SEC',
      'examples/ansible/group_vars/all.yaml:23 CERT_COMMON_NAME',
      'examples/ansible/hosts:32 my-cluster-nfs',
    ]);
  });

  it('reads the later seed layout: [apiserver_vip], templates, kube-vip, stacked etcd, host ranges', async () => {
    const { inventory, warnings } = await loadInventory(join(fixtures, 'seed-2024'));
    expect(inventory.cluster).toMatchObject({
      name: 'my-cluster',
      kubernetesVersion: '1.30.3', // "{{ KUBERNETES_MAJOR_VERSION }}.{{ … }}"
      vip: { address: '10.10.0.50', virtualRouterId: 61 }, // "{{ groups['apiserver_vip'][0] }}"
      podSubnet: '10.32.0.0/16',
      loadBalancer: { kind: 'none', port: 6443 },
      etcd: { mode: 'stacked' },
    });
    expect(
      inventory.hosts.map(
        (h) => `${h.name} ${h.address} ${h.roles.join('+')}${h.ssh?.bastion ? ` via ${h.ssh.bastion}` : ''}`,
      ),
    ).toEqual([
      'k8s-master-1 10.10.0.51 primary-master',
      'k8s-master-2 10.10.0.52 secondary-master',
      'k8s-master-3 10.10.0.53 secondary-master',
      // [elasticsearch_hot] / [elasticsearch_warm]: the logging addon's store tiers.
      'k8s-minion-4 10.10.0.80 worker+logs-hot',
      'k8s-minion-5 10.10.0.81 worker+logs-warm',
      'k8s-minion-1 10.10.0.56 worker',
      'k8s-minion-2 k8s-minion-2 worker via jump@10.10.0.5',
      'k8s-minion-3 k8s-minion-3 worker via jump@10.10.0.5',
    ]);
    const fields = warnings.map((w) => w.field);
    for (const f of [
      'LOAD_BALANCING',
      'KEEPALIVED_AUTH_PASS',
      'OS_DOCKER_CGROUP_DRIVER',
      'SETUP_DOCKER',
      'INSECURE_REGISTRY',
      'NETWORK_PLUGIN',
      'ETCD_HOSTING',
      'k8s-nfs',
      'ansible_python_interpreter',
    ])
      expect(fields).toContain(f);
    // The version parts are used by KUBERNETES_VERSION's template, so they are not "unknown".
    expect(fields).not.toContain('KUBERNETES_MAJOR_VERSION');
    // The VRRP password is a secret: its value is not echoed.
    expect(JSON.stringify(warnings)).not.toContain('4be37dc3b4c90194d1600c483e10ad1d');
  });

  it('maps ansible_become and a ProxyJump shared by all hosts to global ssh settings', async () => {
    const { inventory, warnings } = await loadInventory(join(fixtures, 'ini-become'));
    expect(inventory.ssh).toMatchObject({ user: 'admin', sudo: true, bastion: 'jump@10.200.0.2:2222' });
    expect(inventory.hosts.every((h) => h.ssh === undefined)).toBe(true);
    // The other SSH option is reported once, at its line, not once per host.
    expect(
      warnings.filter((w) => w.field === 'ansible_ssh_common_args').map((w) => `${w.line}:${w.column} ${w.text}`),
    ).toEqual([expect.stringMatching(/^29:25 -o ServerAliveInterval=30 ignored: only ProxyJump/)]);
  });

  it("merges variables in Ansible's precedence order", async () => {
    const { inventory } = await loadInventory(join(fixtures, 'ini-precedence'));
    const ssh = Object.fromEntries(inventory.hosts.map((h) => [h.name, h.ssh]));
    expect(ssh).toEqual({
      // [masters:vars] beats [all:vars]; group_vars/all (2202) beats [masters:vars] (2201); an inventory host var
      // beats group_vars/masters, which beats group_vars/nodes (its parent).
      m1: { user: 'inv-masters', port: 2202, identityFile: '/keys/host-m1' },
      m2: { user: 'inv-masters', port: 2202, identityFile: '/keys/masters' },
      // host_vars/m3.yaml beats everything.
      m3: { user: 'inv-masters', port: 2203, identityFile: '/keys/host-vars-m3' },
      w1: { user: 'inv-all', port: 2202, identityFile: '/keys/nodes' },
      w2: { user: 'inv-all', port: 2202, identityFile: '/keys/nodes' },
    });
  });

  it('hoists a connection setting every host takes from one line into the global ssh settings', async () => {
    const src = await readInventorySource(join(root, 'examples/ansible'));
    const value = src.value as { ssh: unknown; hosts: { name: string; ssh?: unknown }[] };
    // [all:vars] ansible_user / ansible_ssh_private_key_file: one line for every host → global.
    expect(value.ssh).toEqual({ user: 'root', identityFile: '~/.ssh/id_ed25519' });
    // ansible_port on one host's line stays with that host.
    expect(value.hosts.filter((h) => h.ssh).map((h) => [h.name, h.ssh])).toEqual([
      ['my-cluster-minion-2', { port: 2222 }],
    ]);
  });
});

describe('convert (INI → our YAML)', () => {
  for (const dir of [
    'examples/ansible',
    'test/fixtures/inventory/seed-2024',
    'test/fixtures/inventory/ini-precedence',
  ]) {
    it(`loads back to the same inventory: ${dir}`, async () => {
      const src = await readInventorySource(join(root, dir));
      const { inventory, warnings } = validateSource(src);
      expect(inventory).toBeDefined();
      const text = toYaml(src.value, { from: src.sourceFiles, warnings });
      const out = join(tmp, `${dir.replace(/\W+/g, '-')}.yaml`);
      await writeFile(out, text);
      const again = await loadInventory(out);
      expect(again.inventory).toEqual(inventory);
      expect(again.warnings).toEqual([]);
      // The notes keep what the conversion dropped, as comments.
      for (const w of warnings) expect(text).toContain(`${w.field ?? ''}: ${w.text}`);
    });
  }
});
