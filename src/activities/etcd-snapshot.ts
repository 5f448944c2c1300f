// etcd snapshots and disaster-recovery restore, after etcd's guide (https://etcd.io/docs/v3.5/op-guide/recovery/):
// `snapshot save` on one healthy member, streamed to the operator's store; restore = stop every member, keep its
// data dir aside, `snapshot restore` per member with its name and peer URL and a NEW initial-cluster-token, start
// them all. etcd 3.5+ ships the offline commands in etcdutl (3.6's etcdctl no longer has them); 3.4 (Debian 12)
// has only `etcdctl snapshot status|restore`: the host scripts use whichever is installed.
//
// Results carry paths, sizes, revisions and checksums only: the snapshot's bytes (every Secret of the cluster)
// never enter Temporal history.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { FailureType, InvalidInputError, KubeadmHaError } from '../errors.js';
import { ETCD_SERVICE, type EtcdClientTls, type EtcdMemberConfig } from '../plan/etcd.js';
import type { HostContext } from '../plan/types.js';
import { keepAlive, heartbeat } from './activity-context.js';
import type { ActivityDeps } from './deps.js';
import { etcdctlArgv } from './etcdctl.js';
import { withFailures } from './failures.js';
import { parseKeyValues } from './key-values.js';
import { createEtcdActivities, type EtcdHealthGate, type WaitEtcdHealthyInput } from './etcd.js';
import { detectServiceManager } from './services/index.js';
import { receiveSnapshot, recordedSha256, sha256File, snapshotDir, snapshotFileName } from './snapshot-store.js';

/** Where a snapshot is taken on the member before it is streamed off (root only, removed after the copy). */
export const HOST_SNAPSHOT_DIR = '/var/lib/kubeadm2ha/snapshots';
/** Where a snapshot to restore is uploaded on each member (removed once restored), and the per-run done markers. */
export const HOST_RESTORE_DIR = '/var/lib/kubeadm2ha/restore';

export interface SaveEtcdSnapshotInput {
  cluster: string;
  /** Members to try, in order: the first one that takes the snapshot wins. */
  members: { host: HostContext; clientUrl: string }[];
  tls: EtcdClientTls;
  /** UTC `YYYYMMDDTHHMMSSZ` from the workflow clock: a retried attempt writes the same file name. */
  stamp: string;
}

export interface EtcdSnapshotStatus {
  /** etcd's own integrity hash of the snapshot's contents. */
  hash: number;
  revision: number;
  totalKeys: number;
  totalSize: number;
}

export interface EtcdSnapshotResult extends EtcdSnapshotStatus {
  member: string;
  /** In the operator's store (stateDir()/clusters/<cluster>/snapshots). */
  path: string;
  size: number;
  sha256: string;
  /** etcdutl (3.5+) or etcdctl (3.4) verified it on the host. */
  tool: 'etcdutl' | 'etcdctl';
  etcdVersion: string;
  /** Members that could not take it, with the reason, before `member` did. */
  skipped: { member: string; error: string }[];
  saveMs: number;
  transferMs: number;
}

export interface VerifyEtcdSnapshotInput {
  path: string;
  /** Expected sha256; without it, the `.sha256` file beside the snapshot. */
  sha256?: string;
}

export interface StopEtcdMemberResult {
  host: string;
  wasRunning: boolean;
}

export interface RestoreEtcdMemberInput {
  host: HostContext;
  snapshot: { path: string; sha256: string };
  member: Pick<EtcdMemberConfig, 'name' | 'dataDir' | 'initialCluster' | 'initialAdvertisePeerUrls'>;
  /** The new cluster's token: a restored cluster must not be mistaken for the old one by a stray member. */
  initialClusterToken: string;
  /** Names this restore: the data dir goes to `<dataDir>.before-restore-<stamp>`. */
  stamp: string;
}

export interface RestoreEtcdMemberResult {
  host: string;
  /** Where the member's previous data dir is now (kept, never deleted). */
  previousDataDir: string;
  /** False when an earlier attempt of this same restore had finished it (a retry, or a new worker). */
  restored: boolean;
  tool: 'etcdutl' | 'etcdctl';
  uploaded: boolean;
  ms: number;
}

export interface StartEtcdMemberResult {
  host: string;
  started: boolean;
}

/** `snapshot status -w json` of etcdctl 3.4 and etcdutl 3.5/3.6 (3.6 adds "version"). */
export function parseSnapshotStatus(text: string): EtcdSnapshotStatus | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null) return undefined;
  const d = data as Record<string, unknown>;
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const [hash, revision, totalKeys, totalSize] = [n(d.hash), n(d.revision), n(d.totalKey), n(d.totalSize)];
  if (hash === undefined || revision === undefined || totalKeys === undefined || totalSize === undefined)
    return undefined;
  return { hash, revision, totalKeys, totalSize };
}

// Positional: $1 the file, then etcdctl's argv ending in `snapshot save <file>.part`. The snapshot is taken to a
// .part file (0600 by umask) and renamed when complete; the status comes from the offline tool, which re-reads
// the file and checks etcd's own hash; then its sha256 and size.
const saveScript = [
  'set -e',
  'f=$1; shift',
  'umask 077',
  'mkdir -p -- "${f%/*}"',
  'rm -f -- "$f" "$f.part"',
  '"$@" >&2',
  'mv -f -- "$f.part" "$f"',
  'if command -v etcdutl >/dev/null 2>&1; then echo tool=etcdutl; echo "status=$(etcdutl snapshot status "$f" -w json)"',
  'else echo tool=etcdctl; echo "status=$(ETCDCTL_API=3 etcdctl snapshot status "$f" -w json)"; fi',
  'echo "sha256=$(sha256sum < "$f" | cut -d" " -f1)"',
  'echo "size=$(stat -c %s -- "$f")"',
  'echo "version=$(etcd --version 2>/dev/null | sed -n "s/^etcd Version: //p")"',
].join('\n');

// $1 snapshot, $2 data dir, $3 aside dir, $4 done marker, $5 name, $6 initial cluster, $7 token, $8 peer URLs.
// The member's data dir is moved aside once (the aside dir existing means it already was), so anything at the
// data dir afterwards can only be a half-finished restore of this same run, which is removed and redone. The
// marker, written last, makes a retry after success a no-op.
const restoreScript = [
  'set -e',
  'snap=$1 data=$2 aside=$3 marker=$4; shift 4',
  'if [ -f "$marker" ]; then echo state=already; echo "tool=$(cat -- "$marker")"; exit 0; fi',
  'if [ ! -e "$aside" ]; then',
  '  if [ -e "$data" ]; then mv -- "$data" "$aside"; else mkdir -m 700 -- "$aside"; fi',
  'fi',
  'tmp="$data.restoring"',
  'rm -rf -- "$tmp" "$data"',
  'if command -v etcdutl >/dev/null 2>&1; then tool=etcdutl; set -- etcdutl "$@"',
  'else tool=etcdctl; set -- env ETCDCTL_API=3 etcdctl "$@"; fi',
  '"$@" >&2',
  'chmod 700 -- "$tmp"',
  'chown -R --reference="$aside" -- "$tmp"',
  'mv -- "$tmp" "$data"',
  'rm -f -- "$snap"',
  'mkdir -p -- "${marker%/*}"',
  'echo "$tool" > "$marker"',
  'echo state=restored; echo "tool=$tool"',
].join('\n');

const tools = ['etcdutl', 'etcdctl'] as const;
const toolOf = (v: string | undefined): 'etcdutl' | 'etcdctl' => tools.find((t) => t === v) ?? 'etcdctl';

export function createEtcdSnapshotActivities(deps: ActivityDeps) {
  return {
    async saveEtcdSnapshot({ cluster, members, tls, stamp }: SaveEtcdSnapshotInput): Promise<EtcdSnapshotResult> {
      return withFailures(async () => {
        const dir = snapshotDir(cluster);
        if (members.length === 0) throw new InvalidInputError('no etcd member to take a snapshot from');
        const skipped: EtcdSnapshotResult['skipped'] = [];
        for (const { host, clientUrl } of members) {
          const name = host.target.name;
          const file = `${HOST_SNAPSHOT_DIR}/${snapshotFileName(stamp, name)}`;
          const session = deps.session(host);
          const t0 = deps.now();
          let out;
          try {
            // Only this member's endpoint: `snapshot save` refuses several, and the member must itself be healthy.
            const argv = etcdctlArgv(tls, [clientUrl], ['snapshot', 'save', `${file}.part`], '10m');
            out = await keepAlive(
              session.run(['sh', '-c', saveScript, 'sh', file, ...argv], {
                action: 'etcdctl snapshot save',
                timeoutMs: 15 * 60_000,
              }),
              { member: name, phase: 'snapshot save' },
            );
          } catch (err) {
            if (!(err instanceof KubeadmHaError) || err.type === FailureType.InvalidInput) throw err;
            skipped.push({ member: name, error: err.message });
            continue;
          }
          const saveMs = deps.now() - t0;
          const f = parseKeyValues(out.stdout);
          const status = parseSnapshotStatus(f.get('status') ?? '');
          const sha256 = f.get('sha256') ?? '';
          const size = Number(f.get('size'));
          if (!status || !/^[0-9a-f]{64}$/.test(sha256) || !Number.isFinite(size)) {
            throw new KubeadmHaError(
              `snapshot status did not verify ${file}: ${out.stdout.slice(0, 300)}`,
              FailureType.CommandFailed,
              name,
            );
          }
          const t1 = deps.now();
          let last = 0;
          const received = await receiveSnapshot(
            dir,
            snapshotFileName(stamp, name),
            sha256,
            (sink) => session.downloadFile(file, sink, { timeoutMs: 30 * 60_000 }),
            (bytes) => {
              // Every 4 MiB and at the end: enough to show progress, few enough to stay cheap.
              if (bytes - last >= 4 << 20 || bytes === size) {
                last = bytes;
                heartbeat({ member: name, phase: 'transfer', bytes, total: size });
              }
            },
          );
          const transferMs = deps.now() - t1;
          // The copy is verified: the host's one goes (it holds every Secret; the operator's store is the backup).
          await session.run(['rm', '-f', '--', file], {
            action: 'remove host copy of the snapshot',
            timeoutMs: 30_000,
          });
          return {
            member: name,
            path: received.path,
            size: received.size,
            sha256: received.sha256,
            ...status,
            tool: toolOf(f.get('tool')),
            etcdVersion: f.get('version') ?? '',
            skipped,
            saveMs,
            transferMs,
          };
        }
        throw new KubeadmHaError(
          `no member could take a snapshot: ${skipped.map((s) => s.error).join('; ')}`,
          FailureType.CommandFailed,
        );
      });
    },

    async verifyEtcdSnapshotFile({
      path,
      sha256,
    }: VerifyEtcdSnapshotInput): Promise<{ path: string; size: number; sha256: string }> {
      return withFailures(async () => {
        if (!path.startsWith('/')) throw new InvalidInputError(`snapshot path must be absolute: ${path}`);
        const st = await stat(path).catch(() => undefined);
        if (!st?.isFile()) throw new InvalidInputError(`snapshot ${path} is not a file`);
        const expected = sha256 ?? (await recordedSha256(path));
        if (!expected) {
          throw new InvalidInputError(
            `no checksum for ${path}: pass --sha256, or keep the .sha256 file \`etcd snapshot\` wrote beside it`,
          );
        }
        const actual = await sha256File(path);
        if (actual !== expected.toLowerCase()) {
          throw new InvalidInputError(
            `snapshot ${path} has sha256 ${actual}, expected ${expected}: refusing to restore it`,
          );
        }
        return { path, size: st.size, sha256: actual };
      });
    },

    async stopEtcdMember({ host }: { host: HostContext }): Promise<StopEtcdMemberResult> {
      return withFailures(async () => {
        const manager = await detectServiceManager(deps.session(host));
        const wasRunning = await manager.isActive(ETCD_SERVICE);
        if (wasRunning) await manager.stop(ETCD_SERVICE);
        return { host: host.target.name, wasRunning };
      });
    },

    async restoreEtcdMember(input: RestoreEtcdMemberInput): Promise<RestoreEtcdMemberResult> {
      return withFailures(async () => {
        const { host, snapshot, member, initialClusterToken, stamp } = input;
        const name = host.target.name;
        if (!/^\d{8}T\d{6}Z$/.test(stamp)) throw new InvalidInputError(`invalid restore stamp ${stamp}`);
        if (!/^\/[^\0\n]*[^/]$/.test(member.dataDir) || member.dataDir.split('/').length < 3) {
          throw new InvalidInputError(`refusing to restore into data dir ${member.dataDir}`);
        }
        const t0 = deps.now();
        const session = deps.session(host);
        const remote = `${HOST_RESTORE_DIR}/${snapshot.sha256}.db`;
        const marker = `${HOST_RESTORE_DIR}/${stamp}-${member.name}.done`;
        const aside = `${member.dataDir}.before-restore-${stamp}`;
        const probe = await session.run(['test', '-f', marker], { allowNonZero: true, action: 'check restore marker' });
        let uploaded = false;
        if (probe.code !== 0) {
          const up = await keepAlive(
            session.putStream(remote, snapshot.sha256, () => createReadStream(snapshot.path), {
              mode: 0o600,
              timeoutMs: 30 * 60_000,
            }),
            { member: name, phase: 'upload' },
          );
          uploaded = up.changed;
        }
        const restoreArgs = [
          'snapshot',
          'restore',
          remote,
          '--name',
          member.name,
          '--initial-cluster',
          member.initialCluster,
          '--initial-cluster-token',
          initialClusterToken,
          '--initial-advertise-peer-urls',
          member.initialAdvertisePeerUrls.join(','),
          '--data-dir',
          `${member.dataDir}.restoring`,
        ];
        const out = await keepAlive(
          session.run(['sh', '-c', restoreScript, 'sh', remote, member.dataDir, aside, marker, ...restoreArgs], {
            action: 'etcd snapshot restore',
            timeoutMs: 30 * 60_000,
          }),
          { member: name, phase: 'restore' },
        );
        const f = parseKeyValues(out.stdout);
        return {
          host: name,
          previousDataDir: aside,
          restored: f.get('state') === 'restored',
          tool: toolOf(f.get('tool')),
          uploaded,
          ms: deps.now() - t0,
        };
      });
    },

    /**
     * The restore's health gate: every member healthy in the new cluster. A member that died at its first start (a
     * slow peer, a port still held) is started again and the gate waits once more, up to `rounds` looks in all.
     */
    async waitEtcdRestored({ rounds, ...wait }: WaitEtcdHealthyInput & { rounds: number }): Promise<EtcdHealthGate> {
      return withFailures(async () => {
        const etcd = createEtcdActivities(deps);
        const restarted: string[] = [];
        let health = await etcd.waitEtcdHealthy(wait);
        for (let round = 1; round < rounds && !health.healthy && health.down.length > 0; round++) {
          for (const name of health.down) {
            const m = wait.members.find((x) => x.host.target.name === name);
            if (!m) continue;
            const manager = await detectServiceManager(deps.session(m.host));
            if (!(await manager.isActive(ETCD_SERVICE))) await manager.start(ETCD_SERVICE);
            restarted.push(name);
          }
          health = await etcd.waitEtcdHealthy(wait);
        }
        if (!health.healthy) {
          const why =
            health.unhealthy.map((u) => `${u.name} (${u.error})`).join(', ') || `down: ${health.down.join(', ')}`;
          throw new KubeadmHaError(
            `etcd is not healthy after the restore: ${why}; each member's previous data dir is kept beside its data dir`,
            FailureType.EtcdUnhealthy,
          );
        }
        return { health, restarted };
      });
    },

    async startEtcdMember({ host }: { host: HostContext }): Promise<StartEtcdMemberResult> {
      return withFailures(async () => {
        const manager = await detectServiceManager(deps.session(host));
        if (await manager.isActive(ETCD_SERVICE)) return { host: host.target.name, started: false };
        await manager.start(ETCD_SERVICE);
        return { host: host.target.name, started: true };
      });
    },
  };
}
