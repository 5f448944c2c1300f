// createNspawnLab: a lab whose hosts boot real systemd (systemd-nspawn --boot on a Debian root fs), for the paths
// namespace hosts cannot show: the systemd service manager, unit files, `systemctl` semantics. Everything else is
// the ordinary lab (ids, /24, bridge, known_hosts, inventory, teardown on exit and on the creator's SIGKILL).
// Measured shape and numbers: /work/shared/LAB.md §17 and lab/nspawn/README.md.
import { createLab, type CreateLabOptions, type Lab } from '../lab.js';
import {
  nspawnHostKind,
  parseSystemState,
  systemStateScript,
  type NspawnHostOptions,
  type SystemState,
} from './host.js';
import { ensureNspawnRootfs } from './rootfs.js';

export interface NspawnLab extends Lab {
  rootfs: string;
  /** `systemctl is-system-running` and the failed units of a host, read now. */
  systemState(host: string): Promise<SystemState>;
}

export type CreateNspawnLabOptions = Omit<CreateLabOptions, 'kind'> & {
  /** A root fs to boot instead of the cached default (scripts/build-nspawn-rootfs.sh). */
  rootfs?: string;
} & NspawnHostOptions;

export async function createNspawnLab(opts: CreateNspawnLabOptions): Promise<NspawnLab> {
  const rootfs = opts.rootfs ?? (await ensureNspawnRootfs());
  const kind = nspawnHostKind(rootfs, { ...(opts.bindReadOnly && { bindReadOnly: opts.bindReadOnly }) });
  // Booting systemd with its units takes longer than sshd alone (about 1 s a host, more under load).
  const lab = await createLab({ readyTimeoutMs: 60_000, ...opts, kind });
  return Object.assign(lab, {
    rootfs,
    async systemState(host: string): Promise<SystemState> {
      return parseSystemState((await lab.exec(host, systemStateScript(), { allowFail: true })).stdout);
    },
  });
}
