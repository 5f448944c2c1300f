// flanneld, install-conf and our flannel CNI plugin, built by the real scripts/build-flannel.sh (minutes cold, once per
// machine; a rerun returns at once). The plugin then runs for real inside a lab host, the way a container runtime
// calls it (CNI_* environment, configuration on stdin), with Debian's bridge and host-local plugins doing the work:
// it hands them the subnet flanneld wrote, DEL undoes ADD and may be repeated, and without subnet.env it says why.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../../lab/index.js';
import { hostDir } from '../../../lab/host-files.js';
import { ensureFlannelBinaries, type FlannelBinaries } from '../../../lab/k8s/flannel-binaries.js';
import { writeFileCommand } from '../../../lab/k8s/node.js';
import { quote } from '../../../src/ssh/quote.js';
import { FLANNEL_VERSION } from '../../../src/templates/flannel.js';

const pexec = promisify(execFile);
const BUILD_TIMEOUT = 60 * 60_000;

let bins: FlannelBinaries;
beforeAll(async () => {
  bins = await ensureFlannelBinaries({ log: (l) => process.stderr.write(`${l}\n`) });
}, BUILD_TIMEOUT);

describe('ensureFlannelBinaries', () => {
  it('builds static flanneld, install-conf and the CNI plugin at the pinned version', async () => {
    expect(bins.version).toBe(FLANNEL_VERSION);
    expect(bins.binDir).toMatch(/\/flannel\/flannel-0\.28\.10_[0-9a-f]{12}\/bin$/);
    for (const b of [bins.flanneld, bins.installConf, bins.cniPlugin]) {
      expect((await pexec('file', ['-L', b])).stdout).toMatch(/statically linked/);
    }
    // flanneld prints its version on stderr.
    expect((await pexec(bins.flanneld, ['--version'])).stderr).toBe(`v${FLANNEL_VERSION}\n`);
  });

  it('returns the finished cache at once on a rerun', async () => {
    const t0 = Date.now();
    expect(await ensureFlannelBinaries({ log: () => {} })).toEqual(bins);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('the flannel CNI plugin in a lab host, delegating to Debian’s bridge and host-local', () => {
  let lab: Lab | undefined;
  const subnetEnv =
    'FLANNEL_NETWORK=10.200.250.128/25\nFLANNEL_SUBNET=10.200.250.145/28\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
  // Upstream's cni-conf.json entry, with the files moved under /tmp.
  const conf = JSON.stringify({
    cniVersion: '1.0.0',
    name: 'cbr0',
    type: 'flannel',
    subnetFile: '/tmp/flannel/subnet.env',
    dataDir: '/tmp/flannel/data',
    delegate: { hairpinMode: true, isDefaultGateway: true },
  });
  const sh = async (cmd: string): Promise<string> => (await lab!.exec('h1', cmd)).stdout;
  const cni = (command: string, id: string, netns: string): string =>
    `printf %s ${quote(conf)} | CNI_COMMAND=${command} CNI_CONTAINERID=${id} CNI_NETNS=/run/netns/${netns} ` +
    'CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni:/tmp/bin /tmp/bin/flannel';

  beforeAll(async () => {
    lab = await createLab({ hosts: 1 });
    const bin = join(hostDir(lab.dir, 1), 'tmp', 'bin');
    await mkdir(bin, { recursive: true });
    await copyFile(bins.cniPlugin, join(bin, 'flannel'));
    await chmod(join(bin, 'flannel'), 0o755);
    await sh('ip netns add pod-a && ip netns add pod-b');
  }, 120_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  it('says flanneld has not written the subnet yet when subnet.env is missing', async () => {
    const r = await lab!.exec('h1', cni('ADD', 'early', 'pod-a'), { allowFail: true });
    expect(r.code).not.toBe(0);
    const err = JSON.parse(r.stdout) as { code: number; msg: string };
    expect(err.msg).toMatch(/subnet\.env: no such file or directory \(flanneld writes it .*is it running\?\)/);
  });

  it("ADD gives each pod an address of the node's subnet behind the cni0 gateway, with flannel's MTU", async () => {
    await sh(writeFileCommand('/tmp/flannel/subnet.env', subnetEnv));
    const a = JSON.parse(await sh(cni('ADD', 'pod-a', 'pod-a'))) as {
      ips: { address: string; gateway: string }[];
      routes: { dst: string }[];
    };
    const b = JSON.parse(await sh(cni('ADD', 'pod-b', 'pod-b'))) as typeof a;
    expect(a.ips).toEqual([{ address: '10.200.250.146/28', gateway: '10.200.250.145', interface: 2 }]);
    expect(b.ips[0]!.address).toBe('10.200.250.147/28');
    expect(a.routes.map((r) => r.dst)).toEqual(['10.200.250.128/25', '0.0.0.0/0']);
    expect(await sh('ip -4 -o addr show cni0')).toMatch(/inet 10\.200\.250\.145\/28 /);
    expect(await sh('ip netns exec pod-a ip -o link show eth0')).toMatch(/ mtu 1450 /);
    // flanneld masquerades (FLANNEL_IPMASQ=true), so the bridge must not add its own NAT rules.
    expect(await sh('iptables -t nat -S POSTROUTING')).not.toMatch(/CNI-/);
    expect(await sh('ip netns exec pod-a ping -n -c 1 -W 2 10.200.250.147')).toMatch(/1 received/);
  });

  it('DEL removes what ADD made, even after subnet.env is gone, and a repeated DEL succeeds', async () => {
    await sh('rm /tmp/flannel/subnet.env');
    await sh(cni('DEL', 'pod-a', 'pod-a'));
    await sh(cni('DEL', 'pod-a', 'pod-a'));
    expect(await sh('ip netns exec pod-a ip -o link show')).not.toMatch(/eth0/);
    expect(await sh('ls /tmp/flannel/data')).toBe('pod-b\n');
    // host-local released the address: only pod-b's remains reserved.
    expect(await sh('ls /var/lib/cni/networks/cbr0 | grep -c "^10\\."')).toBe('1\n');
  });
});
