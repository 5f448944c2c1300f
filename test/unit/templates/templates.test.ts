// Every rendered file is checked by the tool that will read it: haproxy -c, nginx -t, keepalived --config-test,
// containerd config dump, and `kubeadm config validate` with the lab's kubeadm (when its build is in the cache).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';
import {
  containerdSettings,
  controlPlaneEndpoint,
  joinSettings,
  keepalivedSettings,
  kubeadmClusterSettings,
  kubeadmNode,
  loadBalancerSettings,
  sandboxImage,
} from '../../../src/plan/cluster-config.js';
import { renderContainerdConfig, renderHostsToml } from '../../../src/templates/containerd.js';
import { renderApiserverCheck, renderKeepalivedConf } from '../../../src/templates/keepalived.js';
import {
  fillJoinSecrets,
  JOIN_PLACEHOLDERS,
  renderInitConfiguration,
  renderJoinConfiguration,
} from '../../../src/templates/kubeadm.js';
import { renderHaproxyCfg, renderNginxConf } from '../../../src/templates/load-balancer.js';
import { K8S_LAB_VERSIONS } from '../../../lab/k8s-binaries.js';
import { cacheDir } from '../../../src/paths.js';

const run = promisify(execFile);
let dir: string;
// keepalived --config-test checks that the VRRP interface exists and is not loopback: take one of this machine's.
const nic = readdirSync('/sys/class/net').find((n) => n !== 'lo') ?? 'eth0';

const input: InventoryInput = {
  cluster: {
    name: 'prod',
    kubernetesVersion: '1.34.12',
    imageRepository: 'registry.example.com:5000/k8s',
    vip: { address: '10.10.0.100', interface: nic },
    podSubnet: '10.244.0.0/16',
    containerRuntime: {
      registries: [{ host: 'registry.example.com:5000', endpoints: ['http://registry.example.com:5000'] }],
    },
  },
  hosts: [
    { name: 'm1', address: '10.10.0.11', roles: ['primary-master', 'etcd'] },
    { name: 'm2', address: '10.10.0.12', roles: ['secondary-master', 'etcd'] },
    { name: 'm3', address: '10.10.0.13', roles: ['secondary-master', 'etcd'], labels: { zone: 'b' } },
    { name: 'w1', address: '10.10.0.21', roles: ['worker'] },
  ],
};
const inv = Inventory.parse(input);
const host = (n: string) => inv.hosts.find((h) => h.name === n)!;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k2h-templates-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

/** Run a checker; resolve to its combined output and exit code instead of throwing. */
async function check(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(cmd, args);
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, out: (x.stdout ?? '') + (x.stderr ?? '') };
  }
}

describe('load balancer configs, checked by haproxy and nginx themselves', () => {
  it('haproxy -c accepts the haproxy.cfg for VIP:8443 → every master:6443, and rejects a broken one', async () => {
    const text = renderHaproxyCfg(loadBalancerSettings(inv));
    expect(text).toMatch(/bind \*:8443/);
    expect(text.match(/^ {2}server m\d 10\.10\.0\.1\d:6443 check verify none$/gm)).toHaveLength(3);
    const ok = await check('haproxy', ['-c', '-f', await file('haproxy.cfg', text)]);
    expect(ok.out).toMatch(/Configuration file is valid/);
    expect(ok.code).toBe(0);
    const bad = await check('haproxy', [
      '-c',
      '-f',
      await file('bad.cfg', text.replace('balance roundrobin', 'balance nosuch')),
    ]);
    expect(bad.code).not.toBe(0);
  });

  it('nginx -t accepts the stream config (with Debian dynamic stream module), and rejects a broken one', async () => {
    const streamModule = '/usr/lib/nginx/modules/ngx_stream_module.so';
    const s = {
      ...loadBalancerSettings(inv),
      pidFile: join(dir, 'nginx.pid'),
      ...(existsSync(streamModule) && { streamModule }),
    };
    const text = renderNginxConf(s);
    const ok = await check('nginx', ['-t', '-c', await file('nginx.conf', text)]);
    expect(ok.out).toMatch(/test is successful/);
    const bad = await check('nginx', [
      '-t',
      '-c',
      await file('nginx-bad.conf', text.replace('proxy_pass', 'proxy_passs')),
    ]);
    expect(bad.code).not.toBe(0);
  });
});

describe('keepalived.conf, checked by keepalived --config-test', () => {
  it('primary at the top priority, unicast peers = the other masters, check script on the local apiserver', async () => {
    const m1 = renderKeepalivedConf(keepalivedSettings(inv, host('m1')));
    const m3 = renderKeepalivedConf(keepalivedSettings(inv, host('m3')));
    expect(m1).toMatch(/priority 150\n/);
    expect(m3).toMatch(/priority 148\n/);
    expect(m1).toMatch(/unicast_src_ip 10\.10\.0\.11\n {2}unicast_peer \{\n {4}10\.10\.0\.12\n {4}10\.10\.0\.13\n/);
    expect(m1).toContain(`10.10.0.100/24 dev ${nic} noprefixroute`);
    expect(() => keepalivedSettings(inv, host('w1'))).toThrow(/not a master/);
    expect(renderApiserverCheck(6443)).toMatch(/https:\/\/127\.0\.0\.1:6443\/livez/);
    const script = await file('check_apiserver.sh', renderApiserverCheck(6443));
    const conf = m1.replace('/etc/keepalived/check_apiserver.sh', script);
    const ok = await check('keepalived', ['--config-test', '-f', await file('keepalived.conf', conf)]);
    expect(ok.code, ok.out).toBe(0);
    // An unknown word (a misspelt noprefixroute) is only warned about and ignored: exit 0 alone would not show it.
    expect(ok.out).not.toMatch(/Unknown configuration entry/);
    const bad = await check('keepalived', [
      '--config-test',
      '-f',
      await file('k-bad.conf', conf.replace('virtual_router_id 51', 'virtual_router_id 300')),
    ]);
    expect(bad.code, bad.out).not.toBe(0);
  });
});

describe('keepalived.conf for a single master', () => {
  it('has no unicast section (keepalived refuses an empty unicast_peer) and passes keepalived --config-test', async () => {
    const one = Inventory.parse({ ...input, hosts: input.hosts.filter((h) => h.name === 'm1' || h.name === 'w1') });
    const m1 = renderKeepalivedConf(keepalivedSettings(one, one.hosts[0]!));
    expect(m1).not.toMatch(/unicast/);
    const script = await file('check_apiserver-1.sh', renderApiserverCheck(6443));
    const conf = m1.replace('/etc/keepalived/check_apiserver.sh', script);
    const ok = await check('keepalived', ['--config-test', '-f', await file('keepalived-1.conf', conf)]);
    expect(ok.code, ok.out).toBe(0);
  });
});

describe('containerd config.toml and hosts.toml', () => {
  it('containerd config dump reads our settings back (systemd cgroups, sandbox image, registry config path)', async () => {
    const text = renderContainerdConfig(containerdSettings(inv, '/opt/cni/bin'));
    const dump = await check('containerd', ['--config', await file('config.toml', text), 'config', 'dump']);
    expect(dump.code, dump.out).toBe(0);
    expect(dump.out).toContain('sandbox_image = "registry.example.com:5000/k8s/pause:3.10.1"');
    expect(dump.out).toMatch(/SystemdCgroup = true/);
    expect(dump.out).toMatch(/config_path = "\/etc\/containerd\/certs.d"/);
    expect(dump.out).toMatch(/runtime_type = "io.containerd.runc.v2"/);
    const lab = renderContainerdConfig({
      cgroupDriver: 'cgroupfs',
      sandboxImage: 'x/pause:1',
      restrictOomScoreAdj: true,
      cniBinDir: '/usr/lib/cni',
    });
    const labDump = await check('containerd', ['--config', await file('lab.toml', lab), 'config', 'dump']);
    expect(labDump.out).toMatch(/SystemdCgroup = false/);
    expect(labDump.out).toMatch(/restrict_oom_score_adj = true/);
  });

  it('hosts.toml: plain HTTP endpoints, skip_verify only when asked; a host with a scheme is refused', () => {
    const t = renderHostsToml({ host: 'r:5000', endpoints: ['http://r:5000', 'https://m.example'], skipVerify: true });
    expect(parseToml(t)).toEqual({ server: 'http://r:5000', hosts: ['http://r:5000', 'https://m.example'], skip: 2 });
    expect(renderHostsToml({ host: 'docker.io', endpoints: ['https://m'], skipVerify: false })).not.toMatch(
      /skip_verify/,
    );
    expect(() => renderHostsToml({ host: 'http://r', endpoints: ['http://r'], skipVerify: false })).toThrow(
      /invalid registry host/,
    );
  });
});

/** The fields of kubeadm's documents these tests look at. */
interface KubeadmDoc {
  kind: string;
  localAPIEndpoint?: unknown;
  nodeRegistration: { kubeletExtraArgs?: unknown };
  etcd?: unknown;
  networking: { podSubnet?: string };
  controllerManager: { extraArgs?: unknown };
  cgroupDriver?: string;
  conntrack?: unknown;
  discovery: { bootstrapToken: Record<string, unknown> };
  controlPlane?: unknown;
}
const docsOf = (text: string): KubeadmDoc[] => parseAllDocuments(text).map((d) => d.toJSON() as KubeadmDoc);
const docOf = (text: string): KubeadmDoc => parse(text) as KubeadmDoc;

function parseToml(t: string): { server: string; hosts: string[]; skip: number } {
  return {
    server: /^server = "(.*)"$/m.exec(t)?.[1] ?? '',
    hosts: [...t.matchAll(/^\[host\."(.*)"\]$/gm)].map((m) => m[1]!),
    skip: (t.match(/skip_verify = true/g) ?? []).length,
  };
}

describe('kubeadm v1beta4 configurations', () => {
  const kubeadm = cacheDir('k8s', K8S_LAB_VERSIONS.current, 'bin', 'kubeadm');
  const secrets = {
    token: 'abcdef.0123456789abcdef',
    caCertHash: `sha256:${'a'.repeat(64)}`,
    certificateKey: 'b'.repeat(64),
  };

  it('init: VIP:8443 endpoint (haproxy), external etcd on the etcd hosts, SANs, subnets, image repository', () => {
    const text = renderInitConfiguration(kubeadmClusterSettings(inv), kubeadmNode(host('m1')));
    const docs = docsOf(text);
    expect(docs.map((d) => d.kind)).toEqual([
      'InitConfiguration',
      'ClusterConfiguration',
      'KubeletConfiguration',
      'KubeProxyConfiguration',
    ]);
    const [init, cluster, kubelet] = docs;
    expect(init!.localAPIEndpoint).toEqual({ advertiseAddress: '10.10.0.11', bindPort: 6443 });
    expect(init!.nodeRegistration.kubeletExtraArgs).toEqual([{ name: 'node-ip', value: '10.10.0.11' }]);
    expect(cluster).toMatchObject({
      controlPlaneEndpoint: '10.10.0.100:8443',
      kubernetesVersion: 'v1.34.12',
      imageRepository: 'registry.example.com:5000/k8s',
      networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'cluster.local' },
      apiServer: { certSANs: ['10.10.0.100'] },
      etcd: {
        external: { endpoints: ['https://10.10.0.11:2379', 'https://10.10.0.12:2379', 'https://10.10.0.13:2379'] },
      },
    });
    expect(kubelet!.cgroupDriver).toBe('systemd');
    expect(
      controlPlaneEndpoint(
        Inventory.parse({ ...input, cluster: { ...input.cluster, loadBalancer: { kind: 'none' } } }),
      ),
    ).toBe('10.10.0.100:6443');
  });

  it('stacked etcd, no podSubnet without a network plugin, node mask and conntrack for small/namespaced hosts', () => {
    const lab = Inventory.parse({
      ...input,
      cluster: {
        ...input.cluster,
        etcd: { mode: 'stacked' },
        network: { plugin: 'none' },
        nodeCidrMaskSize: 28,
        kubeProxy: { conntrackMaxPerCore: 0 },
        containerRuntime: { cgroupDriver: 'cgroupfs' },
      },
      hosts: input.hosts.map((h) => ({ ...h, roles: h.roles.filter((r) => r !== 'etcd') })),
    });
    const docs = docsOf(renderInitConfiguration(kubeadmClusterSettings(lab), kubeadmNode(lab.hosts[0]!)));
    expect(docs[1]!.etcd).toEqual({ local: { dataDir: '/var/lib/etcd' } });
    expect(docs[1]!.networking.podSubnet).toBe('10.244.0.0/16');
    expect(docs[1]!.controllerManager.extraArgs).toEqual([{ name: 'node-cidr-mask-size-ipv4', value: '28' }]);
    expect(docs[2]!.cgroupDriver).toBe('cgroupfs');
    expect(docs[3]!.conntrack).toEqual({ maxPerCore: 0 });
    const noMask = Inventory.parse({ ...input, cluster: { ...input.cluster, network: { plugin: 'none' } } });
    expect(kubeadmClusterSettings(noMask).podSubnet).toBeUndefined();
  });

  it('join: placeholders only, filled with well-formed secrets; a malformed secret is refused without echoing it', () => {
    const cp = renderJoinConfiguration(joinSettings(inv, host('m2'), true));
    const worker = renderJoinConfiguration(joinSettings(inv, host('w1'), false));
    for (const p of Object.values(JOIN_PLACEHOLDERS)) expect(cp).toContain(p);
    expect(worker).not.toContain(JOIN_PLACEHOLDERS.certificateKey);
    expect(docOf(worker).discovery.bootstrapToken.apiServerEndpoint).toBe('10.10.0.100:8443');
    const filled = docOf(fillJoinSecrets(cp, secrets));
    expect(filled.discovery.bootstrapToken).toMatchObject({ token: secrets.token, caCertHashes: [secrets.caCertHash] });
    expect(filled.controlPlane).toEqual({
      localAPIEndpoint: { advertiseAddress: '10.10.0.12', bindPort: 6443 },
      certificateKey: secrets.certificateKey,
    });
    expect(() => fillJoinSecrets(cp, { ...secrets, certificateKey: undefined })).toThrow(/needs a certificateKey/);
    const evil = 'abcdef.0123456789abcdef\nkind: x';
    expect(() => fillJoinSecrets(cp, { ...secrets, token: evil })).toThrow(
      /token for the join has an unexpected format$/,
    );
    expect(fillJoinSecrets(worker, { token: secrets.token, caCertHash: secrets.caCertHash })).not.toMatch(
      /KUBEADM2HA_/,
    );
  });

  it('sandbox image follows kubeadm: pause 3.10.1 for 1.34, 3.10 for 1.33, unless set', () => {
    expect(sandboxImage(inv)).toBe('registry.example.com:5000/k8s/pause:3.10.1');
    expect(
      sandboxImage(Inventory.parse({ ...input, cluster: { ...input.cluster, kubernetesVersion: '1.33.13' } })),
    ).toMatch(/pause:3\.10$/);
    expect(
      sandboxImage(
        Inventory.parse({ ...input, cluster: { ...input.cluster, containerRuntime: { sandboxImage: 'x/p:1' } } }),
      ),
    ).toBe('x/p:1');
  });

  it.skipIf(!existsSync(kubeadm))(
    'kubeadm config validate (the lab build of kubeadm) accepts init and both joins',
    async () => {
      const init = renderInitConfiguration(kubeadmClusterSettings(inv), kubeadmNode(host('m1')));
      const joins = [
        fillJoinSecrets(renderJoinConfiguration(joinSettings(inv, host('m3'), true)), secrets),
        fillJoinSecrets(renderJoinConfiguration(joinSettings(inv, host('w1'), false)), secrets),
      ];
      for (const [i, text] of [init, ...joins].entries()) {
        const r = await check(kubeadm, ['config', 'validate', '--config', await file(`kubeadm-${i}.yaml`, text)]);
        expect(r.out).toMatch(/ok/i);
        expect(r.code, r.out).toBe(0);
      }
      const bad = await check(kubeadm, [
        'config',
        'validate',
        '--config',
        await file('kubeadm-bad.yaml', init.replace('serviceSubnet: 10.96.0.0/12', 'serviceSubnet: 10.96.0.0/33')),
      ]);
      expect(bad.code).not.toBe(0);
    },
  );
});
