// nspawn lab hosts, for real: Debian's systemd as PID 1 of each host (systemd-nspawn --boot), real sshd under it,
// the lab's own bridge and /24, strict host keys; each host's units in a cgroup of its own; clean teardown, also
// after the creator is SIGKILLed.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupStaleLabs } from '../../../lab/index.js';
import { createNspawnLab, type NspawnLab } from '../../../lab/nspawn/index.js';
import { pollUntil } from '../../support/poll.js';
import { alive, holdLab, leftovers, snapshot, ssh } from '../../support/lab-state.js';

let lab: NspawnLab;
let bootMs = 0;

beforeAll(async () => {
  const t0 = performance.now();
  lab = await createNspawnLab({ hosts: 3 });
  bootMs = performance.now() - t0;
  process.stderr.write(`[nspawn] 3 hosts booted to systemd running + sshd: ${bootMs.toFixed(0)} ms\n`);
});

afterAll(async () => {
  await lab?.destroy();
});

describe('nspawn lab hosts', () => {
  it('boot real systemd as PID 1 to "running" and answer OpenSSH with strict host-key checking', async () => {
    expect(bootMs).toBeLessThan(60_000);
    for (const h of lab.hosts) {
      const r = await ssh(
        lab,
        h.name,
        'cat /proc/1/comm; hostname; systemctl is-system-running; ip -4 -o addr show eth0',
      );
      expect(r.code, r.stderr).toBe(0);
      const [comm, hostname, state, addr] = r.stdout.trim().split('\n');
      expect(comm).toBe('systemd');
      expect(hostname).toBe(h.name);
      expect(state).toBe('running');
      expect(addr).toContain(`inet ${h.address}/24`);
      expect(await lab.systemState(h.name)).toEqual({ state: 'running', failed: [] });
    }
    // A host key the lab did not write is refused (known_hosts is the lab's, exactly as for namespace hosts).
    const known = readFileSync(lab.knownHostsPath, 'utf8').trim().split('\n');
    expect(known.map((l) => l.split(' ')[0])).toEqual(lab.hosts.map((h) => h.address));
  });

  it('have their own machine-id and no route out of the lab /24', async () => {
    const ids = await Promise.all(lab.hosts.map((h) => lab.exec(h.name, 'cat /etc/machine-id')));
    const machineIds = ids.map((r) => r.stdout.trim());
    expect(machineIds.every((m) => /^[0-9a-f]{32}$/.test(m))).toBe(true);
    expect(new Set(machineIds).size).toBe(3);
    const routes = (await lab.exec('h1', 'ip route show')).stdout;
    expect(routes).not.toContain('default');
    expect((await lab.exec('h1', 'ip route get 10.255.255.53', { allowFail: true })).stderr).toMatch(/unreachable/);
  });

  it("keep units apart: a unit's cgroup holds only its own host's processes; a stop on one host spares the others", async () => {
    // Debian's etcd-server ships etcd.service enabled; every host booted one. Started from one cgroup, all guests'
    // systemd would share one tree (.../payload/system.slice/etcd.service holding every host's etcd, the others
    // listed as pid 0): one host's systemd would then account, and wait for, processes of another.
    for (const h of lab.hosts) {
      const [main, ...procs] = (
        await lab.exec(
          h.name,
          'systemctl show -p MainPID --value etcd; cat /sys/fs/cgroup/unified/system.slice/etcd.service/cgroup.procs',
        )
      ).stdout
        .trim()
        .split('\n');
      expect(Number(main)).toBeGreaterThan(0);
      expect(procs).toEqual([main]);
    }
    await lab.exec('h1', 'systemctl stop etcd');
    expect((await lab.exec('h1', 'systemctl is-active etcd', { allowFail: true })).stdout.trim()).toBe('inactive');
    for (const h of ['h2', 'h3']) {
      expect((await lab.exec(h, 'systemctl is-active etcd; systemctl show -p NRestarts --value etcd')).stdout).toBe(
        'active\n0\n',
      );
    }
    await lab.exec('h1', 'systemctl start etcd');
  });

  it('halt on stopHost and boot again on startHost with the same identity and files', async () => {
    const before = (await lab.exec('h3', 'cat /etc/machine-id')).stdout;
    await lab.exec('h3', 'echo kept > /etc/k2h-marker');
    const t0 = performance.now();
    await lab.stopHost('h3');
    const stopMs = performance.now() - t0;
    expect((await ssh(lab, 'h3', 'true')).code).not.toBe(0);
    const t1 = performance.now();
    await lab.startHost('h3');
    process.stderr.write(
      `[nspawn] h3 halted in ${stopMs.toFixed(0)} ms, booted again in ${(performance.now() - t1).toFixed(0)} ms\n`,
    );
    const r = await ssh(lab, 'h3', 'cat /etc/machine-id /etc/k2h-marker; systemctl is-system-running');
    expect(r.stdout).toBe(`${before}kept\nrunning\n`);
  });

  it('a lab whose creator was SIGKILLed dies with it and cleanupStaleLabs removes the rest (cgroups too)', async () => {
    const { child, held } = await holdLab('nspawn');
    expect(held.pids.length).toBe(4);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await pollUntil(() => held.pids.every((p) => !alive(p)), 'held nspawn hosts to die', 15_000);
    expect((await leftovers(held)).length).toBeGreaterThan(0);
    await cleanupStaleLabs();
    // Another test file's cleanup may have claimed this lab first and still be removing it: wait for it (bounded).
    await pollUntil(async () => (await leftovers(held)).length === 0, 'the stale lab to be removed', 15_000).catch(
      () => undefined,
    );
    expect(await leftovers(held)).toEqual([]);
    expect((await ssh(lab, 'h1', 'hostname')).stdout.trim()).toBe('h1');
  });

  it('destroy leaves no netns, links, routes, mounts, processes, cgroups or files', async () => {
    const s = snapshot(lab);
    expect(await leftovers(s)).not.toEqual([]);
    await lab.destroy();
    expect(await leftovers(s)).toEqual([]);
  });
});
