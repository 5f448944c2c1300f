// A restart a config write owes its daemon survives a cut run: keepalived, haproxy, nginx and containerd (setup's
// configureContainerd and the upgrade's setSandboxImage) on one namespace host (k2h-supervise) and on one nspawn host
// (real systemd as PID 1; Debian's packages, no nginx in its root fs). Each writer writes config B in a run that is
// cut right before the daemon's restart: the stand-in for the cut is the session refusing that one command as a
// dropped SSH connection would (the file is then B on disk and the daemon still runs A). The retry must restart the
// daemon (a new pid; the load balancers listen on B's port) although it finds the file already as wanted, and a run
// after it must leave the daemon alone. Every run counts the SSH commands it sent (printed: see the commit).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiserverVipActivities, NGINX_LB_SERVICE } from '../../src/activities/apiserver-vip.js';
import { createContainerdActivities } from '../../src/activities/containerd.js';
import type { ActivityDeps } from '../../src/activities/deps.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { loadInventory } from '../../src/inventory/index.js';
import { targetOf } from '../../src/plan/topology.js';
import type { HostContext } from '../../src/plan/types.js';
import { putFile } from '../../src/ssh/files.js';
import type { HostSession } from '../../src/ssh/index.js';
import { createLab, type Lab } from '../../lab/index.js';
import { createNspawnLab } from '../../lab/nspawn/index.js';
import { pollUntil } from '../support/poll.js';

/** The session of `inner` counting the commands sent; with `cut`, the command whose action matches is not sent and
 * fails as a lost connection would (a stand-in for the cut: the file writes before it are real). */
function observed(inner: HostSession, count: { n: number }, cut?: RegExp): HostSession {
  const s: HostSession = {
    name: inner.name,
    async run(command, opts) {
      if (cut && opts?.action !== undefined && cut.test(opts.action))
        throw new Error(`${inner.name}: connection lost (the test cut it before: ${opts.action})`);
      count.n++;
      return inner.run(command, opts);
    },
    putFile: (path, content, opts) => putFile(s, path, content, opts),
    getFile: (path, opts) => inner.getFile(path, opts),
    putStream: (path, sha, open, opts) => inner.putStream(path, sha, open, opts),
    downloadFile: (path, sink, opts) => inner.downloadFile(path, sink, opts),
  };
  return s;
}

/** The VIP of the lab now running (keepalived holds it on the host's eth0, inside the lab's own namespace). */
let labVip = '';

interface Writer {
  name: string;
  service: string;
  /** The config of version v (0, 1, 2 …) written and its daemon ensured. */
  write(acts: Acts, host: HostContext, v: number): Promise<{ action: string }>;
  /** The port the config of version v listens on, if it has one. */
  port?: (v: number) => number;
}
type Acts = ReturnType<typeof createApiserverVipActivities> & ReturnType<typeof createContainerdActivities>;

const WRITERS: Writer[] = [
  {
    name: 'keepalived',
    service: 'keepalived',
    write: (acts, host, v) =>
      acts.configureKeepalived({
        host,
        settings: {
          self: { name: host.target.name, address: host.target.address },
          peers: [],
          rank: 0,
          vip: { address: labVip, prefixLength: 24, interface: 'eth0', virtualRouterId: 60 + v },
          apiserverPort: 6443,
        },
      }),
  },
  ...(['haproxy', 'nginx'] as const).map((kind, k): Writer => ({
    name: kind,
    service: kind === 'nginx' ? NGINX_LB_SERVICE : 'haproxy',
    port: (v) => 18_440 + 10 * k + v,
    write: (acts, host, v) =>
      acts.configureLoadBalancer({
        host,
        kind,
        settings: {
          port: 18_440 + 10 * k + v,
          backends: [{ name: host.target.name, address: host.target.address, port: 6443 }],
        },
      }),
  })),
  {
    name: 'containerd (configureContainerd)',
    service: 'containerd',
    write: (acts, host, v) =>
      acts.configureContainerd({
        host,
        settings: {
          cgroupDriver: 'cgroupfs',
          sandboxImage: `registry.k8s.io/pause:3.${v}`,
          restrictOomScoreAdj: false,
        },
        registries: [],
      }),
  },
  {
    name: 'containerd (setSandboxImage)',
    service: 'containerd',
    write: (acts, host, v) => acts.setSandboxImage({ host, image: `registry.k8s.io/pause:3.${20 + v}` }),
  },
];

const KINDS = [
  { kind: 'namespace host (k2h-supervise)', create: () => createLab({ hosts: 1 }), skip: [] as string[] },
  { kind: 'nspawn host (systemd)', create: () => createNspawnLab({ hosts: 1 }), skip: ['nginx'] },
];

describe.each(KINDS)('an owed restart survives a cut run: $kind', ({ create, skip }) => {
  let lab: Lab;
  let deps: ReturnType<typeof createSshDeps>;
  let host: HostContext;
  const sh = async (cmd: string): Promise<string> => (await lab.exec('h1', cmd)).stdout.trim();
  /** The daemon's pid as its service manager records it ('' or 0: none). */
  const pidOf = (service: string) =>
    sh(
      `if [ -d /run/systemd/system ]; then systemctl show -p MainPID --value ${service}; ` +
        `else cat /run/${service}.pid 2>/dev/null || true; fi`,
    );
  const running = async (service: string): Promise<string | undefined> => {
    const pid = await pidOf(service);
    return /^[1-9]\d*$/.test(pid) && (await lab.exec('h1', `kill -0 ${pid}`, { allowFail: true })).code === 0
      ? pid
      : undefined;
  };
  const listening = async (port: number) => (await sh('ss -Hltn')).includes(`:${port} `);

  /** One activity run through a counting (and maybe cutting) session: its result and the commands it sent. */
  async function run(w: Writer, v: number, cut?: RegExp) {
    // This file restarts containerd more often than systemd's default start limit (5 in 10 s) allows, which no real
    // run does; the lab forgets those starts (not counted among the run's commands).
    await sh(`if [ -d /run/systemd/system ]; then systemctl reset-failed ${w.service}; fi`);
    const count = { n: 0 };
    const d: ActivityDeps = { ...deps, session: (h) => observed(deps.session(h), count, cut) };
    const acts = { ...createApiserverVipActivities(d), ...createContainerdActivities(d) };
    const result = await w.write(acts, host, v);
    return { action: result.action, commands: count.n };
  }

  beforeAll(async () => {
    lab = await create();
    labVip = lab.vip;
    const inventory = (await loadInventory(await lab.writeInventory())).inventory;
    deps = createSshDeps(sshTrustOf(inventory));
    host = { target: targetOf(inventory.hosts[0]!), ssh: inventory.ssh };
  }, 180_000);
  afterAll(async () => {
    await deps?.close();
    await lab?.destroy();
  });

  for (const w of WRITERS) {
    it.skipIf(skip.includes(w.name))(
      `${w.name}: a run cut before the restart leaves config B on disk under the old daemon; the retry restarts it onto B, once`,
      async () => {
        // Fresh, then unchanged, then changed: the command counts of the three ordinary runs.
        const fresh = await run(w, 0);
        const unchanged = await run(w, 0);
        expect(unchanged.action).toBe('none');
        const changed = await run(w, 1);
        expect(changed.action).toBe('restarted');
        const a = await pollUntil(() => running(w.service), `${w.service} running`, 20_000);
        console.log(
          `${w.name} commands: fresh ${fresh.commands} (${fresh.action}), unchanged ${unchanged.commands}, ` +
            `changed ${changed.commands}`,
        );

        // Cut before the restart (systemd: systemctl restart; k2h-supervise: its stop), config B already written.
        await expect(run(w, 2, new RegExp(`^(systemctl restart|stop) ${w.service}$`))).rejects.toThrow(
          /connection lost/,
        );
        expect(await running(w.service)).toBe(a);

        const retry = await run(w, 2);
        expect(retry.action).toBe('restarted');
        const b = await pollUntil(async () => {
          const pid = await running(w.service);
          return pid !== undefined && pid !== a ? pid : undefined;
        }, `${w.service} running under a new pid`);
        if (w.port) {
          const port = w.port(2);
          await pollUntil(() => listening(port), `${w.service} listening on config B's port ${port}`, 20_000);
          expect(await listening(w.port(1))).toBe(false);
        }
        expect(await sh('ls -A /var/lib/kubeadm2ha/restart-pending 2>/dev/null || true')).toBe('');

        // The restart owed was made: the next run leaves the daemon alone.
        const after = await run(w, 2);
        expect(after.action).toBe('none');
        expect(await running(w.service)).toBe(b);
        console.log(`${w.name} commands: retry ${retry.commands}, after it ${after.commands}`);
      },
      180_000,
    );
  }

  it('containerd: a restart owed under the marker path of an earlier version (containerd-restart-pending) is made', async () => {
    const a = await pollUntil(() => running('containerd'), 'containerd running', 20_000);
    await sh(
      'mkdir -p /var/lib/kubeadm2ha && echo registry.k8s.io/pause:3.22 > /var/lib/kubeadm2ha/containerd-restart-pending',
    );
    expect(
      (
        await run(
          WRITERS.find((w) => w.name === 'containerd (setSandboxImage)')!,
          2,
        )
      ).action,
    ).toBe('restarted');
    await pollUntil(async () => {
      const pid = await running('containerd');
      return pid !== undefined && pid !== a;
    }, 'containerd running under a new pid');
    expect(await sh('ls -A /var/lib/kubeadm2ha')).not.toContain('containerd-restart-pending');
    expect(
      (
        await run(
          WRITERS.find((w) => w.name === 'containerd (setSandboxImage)')!,
          2,
        )
      ).action,
    ).toBe('none');
  }, 120_000);
});
