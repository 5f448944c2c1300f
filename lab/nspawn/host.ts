// nspawn hosts: the lab's host kind whose PID 1 is real systemd. Same network, identity files, known_hosts and
// teardown as namespace hosts (createLab); what differs is the root filesystem (a Debian root fs from
// ./rootfs.ts, overlaid per host) and the init: `unshare` (pdeathsig-tied to the creator, --kill-child) runs
// nspawn-init.sh, which moves into the host's own cgroup (./cgroups.ts) and execs `systemd-nspawn --boot`.
// Stopping TERMs nspawn, which halts the guest cleanly; a SIGKILLed creator takes unshare, nspawn and every
// process of the guest with it (they all live in unshare's pid namespace).
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execInHost } from '../exec.js';
import { hostDir, prepareHost } from '../host-files.js';
import type { HostKind } from '../host-kind.js';
import { startHostProcess, type HostProcess } from '../host-process.js';
import { hostName } from '../names.js';
import { pollFor } from '../proc.js';
import { cgroupName, NSPAWN_INIT } from './cgroups.js';

/** The guest's systemd, as seen from the root pid namespace: nspawn's child once the guest runs. */
export function guestInitPid(p: HostProcess): number | undefined {
  try {
    const kids = readFileSync(`/proc/${p.init.pid}/task/${p.init.pid}/children`, 'utf8').trim().split(/\s+/);
    return kids[0] ? Number(kids[0]) : undefined;
  } catch {
    return undefined;
  }
}

const guestPid = (p: HostProcess): number => {
  const pid = guestInitPid(p);
  if (pid === undefined) throw new Error(`nspawn host (pid ${p.init.pid}) has no running guest`);
  return pid;
};

export interface SystemState {
  /** `systemctl is-system-running`: running, degraded, starting… */
  state: string;
  /** Units in state failed (`systemctl --failed`). */
  failed: string[];
}

/** Shell text printing the state (after waiting up to `waitSeconds` for boot to finish), `---`, the failed units. */
export function systemStateScript(waitSeconds = 0): string {
  const state =
    waitSeconds > 0
      ? `timeout ${Math.ceil(waitSeconds)} systemctl is-system-running --wait`
      : 'systemctl is-system-running';
  return `${state}; echo ---; systemctl --failed --plain --no-legend | cut -d' ' -f1`;
}

export function parseSystemState(stdout: string): SystemState {
  const [state = '', failed = ''] = stdout.split('---\n');
  return { state: state.trim().split('\n').pop() ?? '', failed: failed.split('\n').filter(Boolean) };
}

export interface NspawnHostOptions {
  /** Host directories made visible read-only in every guest: guest path → host path (e.g. the lab's k8s binaries). */
  bindReadOnly?: Record<string, string>;
}

export function nspawnHostKind(rootfs: string, opts: NspawnHostOptions = {}): HostKind {
  return {
    tools: ['/usr/bin/systemd-nspawn', '/usr/bin/unshare', '/usr/bin/setpriv'],

    async prepare(labDir, id, index, n, clientPub) {
      // The namespace host's files fit as they are: its upper/etc is the guest's /etc here, its root dir is
      // bind-mounted as /root. Only DNS differs: no resolver (nothing outside the lab's /24 is reachable).
      const line = await prepareHost(labDir, id, index, n, clientPub);
      const etc = join(hostDir(labDir, index), 'upper', 'etc');
      await mkdir(etc, { recursive: true });
      await writeFile(join(etc, 'resolv.conf'), '# kubeadm2ha nspawn lab host: no DNS; names are in /etc/hosts\n');
      return line;
    },

    start(o) {
      const h = hostDir(o.labDir, o.index);
      const name = hostName(o.index);
      return startHostProcess({
        ...o,
        logFile: join(h, 'init.log'),
        init: [
          // Inline, not a file in the lab dir: hosts start concurrently, and exec of a file being written fails.
          '/bin/sh',
          '-c',
          NSPAWN_INIT,
          'nspawn-init',
          cgroupName(o.labId, o.index),
          'systemd-nspawn',
          '--quiet',
          `--directory=${rootfs}`,
          // One shared read-only root fs, writes go to the host's own upper dir (its identity is already there).
          `--overlay=+/:${join(h, 'upper')}:/`,
          `--bind=${join(h, 'root')}:/root`,
          // containerd's overlayfs snapshotter cannot mount on the overlay root ("failed to mount
          // /tmp/containerd-mount…: invalid argument"): a plain directory, as on namespace hosts.
          `--bind=${join(h, 'containerd')}:/var/lib/containerd`,
          ...Object.entries(opts.bindReadOnly ?? {}).map(([guest, host]) => `--bind-ro=${host}:${guest}`),
          `--network-namespace-path=${o.netnsPath}`,
          // keepalived adds and removes the VIP (netlink RTM_NEWADDR: "Operation not permitted" without it). The netns
          // is the host's own (its eth0 on the lab bridge), so this reaches nothing beyond it.
          '--capability=CAP_NET_ADMIN',
          // runc gives every container a new session keyring; nspawn's seccomp filter refuses keyctl ("unable to
          // join session keyring: unable to create session key: operation not permitted").
          '--system-call-filter=add_key keyctl request_key',
          // This machine's PID 1 is not systemd: no machined to register with, no scope unit to create.
          '--register=no',
          '--keep-unit',
          `--machine=${cgroupName(o.labId, o.index)}`,
          `--hostname=${name}`,
          '--resolv-conf=off',
          '--timezone=off',
          // stdout is init.log, not a terminal: the guest's console is written there.
          '--console=read-only',
          '--boot',
        ],
      });
    },

    async ready(name, p, labDir, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      if (!(await pollFor(() => guestInitPid(p) !== undefined, timeoutMs))) {
        throw new Error(`${name}: systemd-nspawn started no guest`);
      }
      const waitSeconds = Math.max(1, (deadline - Date.now()) / 1000);
      const s = parseSystemState(
        (await execInHost(guestPid(p), join(labDir, 'exec'), systemStateScript(waitSeconds))).stdout,
      );
      if (s.state !== 'running' && s.state !== 'degraded') {
        throw new Error(`${name}: systemd is "${s.state}" after boot; failed units: ${s.failed.join(', ') || 'none'}`);
      }
      if (s.state === 'degraded') process.stderr.write(`nspawn lab: ${name} booted degraded: ${s.failed.join(', ')}\n`);
    },

    execPid: guestPid,
  };
}
