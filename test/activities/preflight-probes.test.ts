// Every preflight probe script (src/activities/preflight-checks.ts) on real lab hosts over SSH, its facts checked
// against independent reads of the same thing (the utilities the scripts no longer fork: uname, cat, awk, df, ss,
// containerd --version ...), run inside the host. h1 has containerd running and a process on a required port; h2
// has no containerd or runc (removed from its private /usr overlay), a tmpfs /var/lib (a free-space figure that
// does not move while other work writes to this machine's disk), a cgroup2 mount at /sys/fs/cgroup (h1 has the
// machine's hybrid v1 layout), the VIP already up on eth0, and an /etc/fstab with swap entries. Each host's probes
// also run as one batch (src/activities/preflight-batch.ts) and must give the same output as alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProbeBatcher } from '../../src/activities/preflight-batch.js';
import { evaluatePorts, parseFacts, probes } from '../../src/activities/preflight-checks.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { loadInventory } from '../../src/inventory/index.js';
import { planPreflight } from '../../src/plan/preflight.js';
import { targetOf } from '../../src/plan/topology.js';
import { quote } from '../../src/ssh/quote.js';
import type { CheckSpec, HostContext, PreflightCheckId } from '../../src/plan/types.js';
import { createLab, type Lab } from '../../lab/index.js';
import { createNspawnLab, type NspawnLab } from '../../lab/nspawn/index.js';
import { writeFileCommand } from '../../lab/k8s/node.js';
import { pollUntil } from '../support/poll.js';
import { startPlainContainerd } from '../support/plain-containerd.js';

/** A lab's hosts with their planned checks, and the SSH sessions the probes run over. */
async function probeEnv(lab: Lab) {
  const inventory = (await loadInventory(await lab.writeInventory())).inventory;
  const deps = createSshDeps(sshTrustOf(inventory));
  const plan = planPreflight(inventory);
  const hosts: Record<string, { ctx: HostContext; steps: CheckSpec[] }> = {};
  for (const h of inventory.hosts) {
    hosts[h.name] = {
      ctx: { target: targetOf(h), ssh: inventory.ssh },
      steps: plan.hosts.find((p) => p.target.name === h.name)!.steps,
    };
  }
  /** The host's planned check; one its role does not plan (vip-subnet on a worker) as h1 has it. */
  const step = (host: string, id: PreflightCheckId): CheckSpec =>
    hosts[host]!.steps.find((s) => s.id === id) ?? hosts.h1!.steps.find((s) => s.id === id)!;
  /** The probe run alone over SSH, as the activity runs the first probe and the clock probe. */
  const probe = async (host: string, id: PreflightCheckId): Promise<string> =>
    (await deps.session(hosts[host]!.ctx).run({ script: probes[id].script(step(host, id)) }, { action: id })).stdout;
  return {
    hosts,
    deps,
    probe,
    /** An independent read inside the host (nsenter, not ssh), trailing newline dropped. */
    read: async (host: string, cmd: string): Promise<string> => (await lab.exec(host, cmd)).stdout.replace(/\n$/, ''),
    async facts(host: string, id: PreflightCheckId) {
      const out = await probe(host, id);
      const f = parseFacts(out);
      const verdict = probes[id].evaluate(f, step(host, id), { raw: out });
      return { out, f, one: (k: string) => f.get(k)?.[0] ?? '', verdict };
    },
    /** Each of the host's probes but the clock, as one batch: the output each gives alone (`skip`: moving facts). */
    async batchMatchesAlone(host: string, skip: PreflightCheckId[] = []) {
      const steps = hosts[host]!.steps.filter((s) => s.id !== 'clock');
      const batcher = new ProbeBatcher();
      const session = deps.session(hosts[host]!.ctx);
      const batched = await Promise.all(
        steps.map((s) => batcher.run(host, session, probes[s.id].script(s), { action: s.id })),
      );
      for (const [i, s] of steps.entries()) {
        if (!skip.includes(s.id))
          expect({ id: s.id, out: batched[i]!.stdout }).toEqual({ id: s.id, out: await probe(host, s.id) });
      }
    },
  };
}

let lab: Lab;
let env: Awaited<ReturnType<typeof probeEnv>>;
const read = (host: string, cmd: string) => env.read(host, cmd);
const facts = (host: string, id: PreflightCheckId) => env.facts(host, id);

const FSTAB = [
  '# /etc/fstab: a comment naming swap',
  '/dev/vda1 / ext4 defaults 0 1',
  '/swapfile none swap sw 0 0',
  '#/dev/vdb2 none swap sw 0 0',
  '  /dev/vdc1\tnone\tswap\tdefaults\t0 0',
  '',
  'UUID=abc none swap sw 0 0', // the last line, without a newline
].join('\n');

beforeAll(async () => {
  lab = await createLab({ hosts: 2 });
  // A process on 6443 (a required port of h1's): the ports probe must name it. It blocks in accept(), which the
  // probe (ss reads the kernel's socket table) never wakes.
  await startPlainContainerd(lab, 'h1', [
    `setsid nohup python3 -c 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 6443)); s.listen(); s.accept()' </dev/null >/dev/null 2>&1 & true`,
  ]);
  await lab.exec(
    'h2',
    [
      'rm /usr/bin/containerd /usr/sbin/runc',
      'mount -t tmpfs -o size=777m k2h-probes-varlib /var/lib',
      'mount -t cgroup2 k2h-probes-cg2 /sys/fs/cgroup',
      `ip addr add ${quote(`${lab.vip}/24`)} dev eth0`,
      writeFileCommand('/etc/fstab', FSTAB),
    ].join(' && '),
  );
  await pollUntil(
    async () => (await lab.exec('h1', 'ss -Htln "sport = :6443"')).stdout !== '',
    'the 6443 listener up on h1',
    60_000,
    200,
  );
  env = await probeEnv(lab);
}, 180_000);

afterAll(async () => {
  await env?.deps.close();
  await lab?.destroy();
});

describe('preflight probe facts on real hosts, against independent reads', () => {
  it('os: /etc/os-release, and kernel and arch as uname says', async () => {
    for (const h of ['h1', 'h2']) {
      const { one } = await facts(h, 'os');
      expect(one('kernel')).toBe(await read(h, 'uname -r'));
      expect(one('arch')).toBe(await read(h, 'uname -m'));
      expect(one('id')).toBe(await read(h, `sed -n 's/^ID=//p' /etc/os-release | tr -d '"'`));
      expect(one('version')).toBe(await read(h, `sed -n 's/^VERSION_ID=//p' /etc/os-release | tr -d '"'`));
    }
  });

  it('resources: nproc and MemTotal', async () => {
    const { one } = await facts('h1', 'resources');
    expect(one('cpus')).toBe(await read('h1', 'nproc'));
    expect(one('memKiB')).toBe(await read('h1', `awk '/^MemTotal:/ {print $2}' /proc/meminfo`));
  });

  it('swap: active devices as tail|wc counts them, fstab swap entries as awk counts them (comments, tabs, no final newline)', async () => {
    for (const h of ['h1', 'h2']) {
      const { one } = await facts(h, 'swap');
      expect(one('active')).toBe(await read(h, 'tail -n +2 /proc/swaps | wc -l'));
      expect(one('fstab')).toBe(await read(h, `awk '$1 !~ /^#/ && $3 == "swap"' /etc/fstab 2>/dev/null | wc -l`));
    }
    expect((await facts('h2', 'swap')).one('fstab')).toBe('3');
  });

  it('hostname and identity: the files cat reads, one MAC per device interface and eth0', async () => {
    for (const h of ['h1', 'h2']) {
      expect((await facts(h, 'hostname')).one('hostname')).toBe(h);
      const { f, one, verdict } = await facts(h, 'identity');
      expect(one('hostname')).toBe(h);
      expect(one('machineId')).toBe(await read(h, 'cat /etc/machine-id'));
      expect(one('productUuid')).toBe(await read(h, 'cat /sys/class/dmi/id/product_uuid 2>/dev/null || true'));
      expect(f.get('mac')).toEqual([await read(h, 'cat /sys/class/net/eth0/address')]);
      expect(verdict.status).toBe('pass');
    }
  });

  it("clock: the host's epoch in ns, between two reads of date", async () => {
    const before = BigInt(await read('h1', 'date +%s%N'));
    const { one } = await facts('h1', 'clock');
    const after = BigInt(await read('h1', 'date +%s%N'));
    const ns = BigInt(one('epochNs'));
    expect(ns >= before && ns <= after).toBe(true);
  });

  it('ports: names the process on a required port; free ports pass without a listing', async () => {
    const busy = await facts('h1', 'ports');
    expect(busy.verdict).toMatchObject({ status: 'fail', message: 'in use: 6443 (python3)' });
    expect(busy.out).toBe(`${await read('h1', `ss -Htlnp 'sport = :6443'`)}\n`);
    const free = await facts('h2', 'ports');
    expect(await read('h2', 'ss -Htln')).not.toBe('');
    expect(free).toMatchObject({ out: '', verdict: { status: 'pass' } });
  });

  it("disk: df -Pk's Available for /var/lib", async () => {
    const { one } = await facts('h2', 'disk');
    expect(one('availKiB')).toBe(await read('h2', `df -Pk /var/lib | awk 'NR==2 {print $4}'`));
    expect(one('availKiB')).toBe(String(777 * 1024));
    const h1 = Number((await facts('h1', 'disk')).one('availKiB'));
    // h1's /var/lib is this machine's busy disk: free space moves between two reads.
    const df = Number(await read('h1', `df -Pk /var/lib | awk 'NR==2 {print $4}'`));
    expect(Math.abs(h1 - df)).toBeLessThan(512 * 1024);
  });

  it('kernel-modules and sysctl: what test -d, grep -w and cat say', async () => {
    const km = await facts('h1', 'kernel-modules');
    expect(km.one('br_netfilter')).toBe(await read('h1', 'test -d /proc/sys/net/bridge && echo 1 || echo 0'));
    expect(km.one('overlay')).toBe(await read('h1', 'grep -qw overlay /proc/filesystems && echo 1 || echo 0'));
    expect(km.one('ip_vs')).toBe(await read('h1', 'test -d /proc/sys/net/ipv4/vs && echo 1 || echo 0'));
    const sc = await facts('h1', 'sysctl');
    for (const k of ['net/bridge/bridge-nf-call-iptables', 'net/ipv4/ip_forward'])
      expect(sc.one(k)).toBe(await read('h1', `cat /proc/sys/${k}`));
    expect(sc.verdict.status).toBe('pass');
  });

  it("cgroups: stat -f's filesystem type, for a hybrid v1 layout (h1) and a cgroup2 mount (h2)", async () => {
    for (const h of ['h1', 'h2']) {
      expect((await facts(h, 'cgroups')).one('fs')).toBe(await read(h, 'stat -fc %T /sys/fs/cgroup'));
    }
    expect((await facts('h2', 'cgroups')).one('fs')).toBe('cgroup2fs');
  });

  it('container-runtime: the versions containerd and runc print; a host without them', async () => {
    const { one, verdict } = await facts('h1', 'container-runtime');
    expect(one('containerd')).toBe(await read('h1', `containerd --version | cut -d" " -f3`));
    expect(one('runc')).toBe(await read('h1', `runc --version | head -n1 | cut -d" " -f3`));
    expect(one('containerd')).not.toBe('');
    expect(one('socket')).toBe('1');
    expect(verdict.status).toBe('pass');
    const none = await facts('h2', 'container-runtime');
    expect(none.out).toBe('socket=0\n');
    expect(none.verdict.status).toBe('warn');
  });

  it("vip-subnet: eth0's addresses, the route's first line and every address, as ip and awk give them", async () => {
    for (const h of ['h1', 'h2']) {
      const { f, one } = await facts(h, 'vip-subnet');
      expect(f.get('addr')).toEqual(
        (await read(h, `ip -o -4 addr show dev eth0 | awk '{print $4}'`)).split('\n').filter(Boolean),
      );
      expect(one('route')).toBe((await read(h, `ip -4 -o route get ${quote(lab.vip)} 2>&1 | head -n1`)).trim());
      expect(f.get('hostaddr')).toEqual(
        (await read(h, `ip -o -4 addr show | awk '{split($4, a, "/"); print a[1]}'`)).split('\n').filter(Boolean),
      );
    }
    expect((await facts('h1', 'vip-subnet')).verdict.status).toBe('pass');
    const up = (await facts('h2', 'vip-subnet')).verdict;
    expect(up).toMatchObject({ status: 'warn', message: `VIP ${lab.vip} is already up on this host` });
  });

  it('each host: the batch gives every probe the output it gives alone', async () => {
    await env.batchMatchesAlone('h1', ['disk']); // the busy disk: see above
    await env.batchMatchesAlone('h2');
  });
});

describe('preflight probe facts on an nspawn host (systemd PID 1, its own Debian root fs and utilities)', () => {
  let nlab: NspawnLab | undefined;
  let n: Awaited<ReturnType<typeof probeEnv>>;
  beforeAll(async () => {
    nlab = await createNspawnLab({ hosts: 1 });
    n = await probeEnv(nlab);
  }, 180_000);
  afterAll(async () => {
    await n?.deps.close();
    await nlab?.destroy();
  });

  it('every probe: the facts the utilities give inside the host', async () => {
    const one = async (id: PreflightCheckId, k: string) => (await n.facts('h1', id)).one(k);
    expect(await n.read('h1', 'cat /proc/1/comm')).toBe('systemd');
    expect(await one('os', 'kernel')).toBe(await n.read('h1', 'uname -r'));
    expect(await one('os', 'arch')).toBe(await n.read('h1', 'uname -m'));
    expect(await one('os', 'id')).toBe(await n.read('h1', `sed -n 's/^ID=//p' /etc/os-release | tr -d '"'`));
    expect(await one('resources', 'cpus')).toBe(await n.read('h1', 'nproc'));
    expect(await one('resources', 'memKiB')).toBe(
      await n.read('h1', `sed -n 's/^MemTotal: *\\([0-9]*\\).*/\\1/p' /proc/meminfo`),
    );
    expect(await one('swap', 'active')).toBe(await n.read('h1', 'tail -n +2 /proc/swaps | wc -l'));
    expect(await one('swap', 'fstab')).toBe(
      await n.read('h1', `grep -c '^[^#]*[[:space:]]swap[[:space:]]' /etc/fstab || true`),
    );
    expect(await one('identity', 'hostname')).toBe('h1');
    expect(await one('identity', 'machineId')).toBe(await n.read('h1', 'cat /etc/machine-id'));
    expect(await one('identity', 'mac')).toBe(await n.read('h1', 'cat /sys/class/net/eth0/address'));
    expect(await one('kernel-modules', 'overlay')).toBe(
      await n.read('h1', 'grep -qw overlay /proc/filesystems && echo 1 || echo 0'),
    );
    expect(await one('sysctl', 'net/ipv4/ip_forward')).toBe(await n.read('h1', 'cat /proc/sys/net/ipv4/ip_forward'));
    expect(await one('cgroups', 'fs')).toBe(await n.read('h1', 'stat -fc %T /sys/fs/cgroup'));
    const cr = await n.facts('h1', 'container-runtime');
    const hasContainerd = (await nlab!.exec('h1', 'command -v containerd', { allowFail: true })).code === 0;
    expect(cr.one('containerd')).toBe(hasContainerd ? await n.read('h1', `containerd --version | cut -d" " -f3`) : '');
    const vip = await n.facts('h1', 'vip-subnet');
    expect(vip.f.get('addr')).toEqual([`${nlab!.hosts[0]!.address}/24`]);
    expect(vip.one('route')).toBe(
      (await n.read('h1', `ip -4 -o route get ${quote(nlab!.vip)} 2>&1 | head -n1`)).trim(),
    );
    expect(vip.verdict, JSON.stringify(vip)).toMatchObject({ status: 'pass' });
    // The verdict the whole listing gives (what the probe printed before it listed only the required ports).
    const ports = n.hosts.h1!.steps.find((s) => s.id === 'ports')!.params.ports ?? [];
    expect((await n.facts('h1', 'ports')).verdict).toEqual(evaluatePorts(await n.read('h1', 'ss -Htlnp'), ports));
    await n.batchMatchesAlone('h1', ['disk']);
  });
});
