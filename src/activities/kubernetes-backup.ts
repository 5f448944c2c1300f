// A copy of a master's /etc/kubernetes (certificates and keys, kubeconfigs, static-pod manifests) and the kubelet's
// config.yaml before an upgrade touches them, and putting it back for a rollback. The seed asks the operator to make
// this copy by hand. The tar stays on the host (root only, 0600): it holds the cluster CA key, which has no business
// on the operator's machine or in history; only its path and sha256 travel.
import { InvalidInputError } from '../errors.js';
import type { HostContext } from '../plan/types.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { parseKeyValues } from './key-values.js';

export const HOST_BACKUP_DIR = '/var/lib/kubeadm2ha/backups';
/** Relative to /: what a backup holds when present. */
export const BACKUP_PATHS = ['etc/kubernetes', 'var/lib/kubelet/config.yaml'] as const;

export interface BackupKubernetesConfigInput {
  host: HostContext;
  /** UTC `YYYYMMDDTHHMMSSZ` from the workflow clock: a retried attempt writes the same file. */
  stamp: string;
}

export interface KubernetesConfigBackup {
  host: string;
  path: string;
  sha256: string;
  size: number;
  /** Entries in the tar (directories and files). */
  entries: number;
  /** Which of BACKUP_PATHS were there to copy. */
  included: string[];
}

export interface RestoreKubernetesConfigInput {
  host: HostContext;
  backup: { path: string; sha256: string };
  /** Names this restore: the current /etc/kubernetes is kept as /etc/kubernetes.before-restore-<stamp>. */
  stamp: string;
}

export interface KubernetesConfigRestore {
  host: string;
  /** Where /etc/kubernetes as it was before the restore is kept (on the host); a second restore in the same run
   * (same stamp) keeps it as …-<stamp>.2, and so on. */
  previous: string;
  /** False when an earlier attempt of this same restore had finished it. */
  restored: boolean;
}

const stampPattern = /^\d{8}T\d{6}Z$/;

// $1 tar path; then the paths (relative to /) to include when present. Written to a .part file (umask 077: 0600)
// and renamed, so a tar under its final name is complete. -p and --numeric-owner keep modes and owners exactly.
const backupScript = [
  'set -e',
  'f=$1; shift',
  'umask 077',
  'mkdir -p -- "${f%/*}"',
  'chmod 700 -- "${f%/*}"',
  'set -- $(for p in "$@"; do [ -e "/$p" ] && printf "%s\\n" "$p"; done)',
  '[ $# -gt 0 ] || { echo "nothing to back up: no /etc/kubernetes" >&2; exit 1; }',
  'tar -C / --numeric-owner -cpf "$f.part" -- "$@"',
  'mv -f -- "$f.part" "$f"',
  'echo "included=$*"',
  'echo "sha256=$(sha256sum < "$f" | cut -d" " -f1)"',
  'echo "size=$(stat -c %s -- "$f")"',
  'echo "entries=$(tar -tf "$f" | wc -l)"',
].join('\n');

// $1 tar, $2 expected sha256, $3 stamp. The tar is checked first; nothing changes when it does not match. The
// current /etc/kubernetes is moved aside once (the aside dir existing means it already was), so anything at
// /etc/kubernetes afterwards is a half-finished restore of this same run, replaced again. The marker holds a
// fingerprint of the tree as restored (paths, types, modes, owners, contents): a retry after success finds the same
// tree and changes nothing, but a later restore in the same run (a node rolled back, retried, failed and rolled back
// again) finds a changed tree, keeps it as the next aside (<aside>.2, .3, …) and restores again. An empty marker (from
// before fingerprints) counts as done.
const restoreScript = [
  'set -e',
  'f=$1 sum=$2 stamp=$3',
  'marker="${f%.tar}.restored-$stamp"',
  'fingerprint() {',
  '  { find /etc/kubernetes /var/lib/kubelet/config.yaml -printf "%p %y %m %U:%G\\n" 2>/dev/null | sort',
  '    find /etc/kubernetes /var/lib/kubelet/config.yaml -type f -exec sha256sum {} + 2>/dev/null | sort; } | sha256sum | cut -d" " -f1',
  '}',
  'aside=/etc/kubernetes.before-restore-$stamp',
  'if [ -f "$marker" ]; then',
  '  if [ ! -s "$marker" ] || [ "$(cat -- "$marker")" = "$(fingerprint)" ]; then echo state=already; exit 0; fi',
  '  n=2; while [ -e "$aside.$n" ]; do n=$((n + 1)); done; aside="$aside.$n"',
  'fi',
  '[ "$(sha256sum < "$f" | cut -d" " -f1)" = "$sum" ] || { echo "backup $f: checksum differs, not restored" >&2; exit 1; }',
  'tmp=$(mktemp -d /var/lib/kubeadm2ha/restore-XXXXXX)',
  'trap \'rm -rf -- "$tmp"\' EXIT',
  'tar -C "$tmp" --numeric-owner -xpf "$f"',
  'if [ ! -e "$aside" ]; then',
  '  if [ -e /etc/kubernetes ]; then mv -- /etc/kubernetes "$aside"; else mkdir -m 700 -- "$aside"; fi',
  '  if [ -e /var/lib/kubelet/config.yaml ]; then cp -p -- /var/lib/kubelet/config.yaml "$aside/.kubelet-config.yaml"; fi',
  'fi',
  'rm -rf -- /etc/kubernetes',
  'mv -- "$tmp/etc/kubernetes" /etc/kubernetes',
  'if [ -e "$tmp/var/lib/kubelet/config.yaml" ]; then',
  '  mkdir -p /var/lib/kubelet',
  '  cp -p -- "$tmp/var/lib/kubelet/config.yaml" /var/lib/kubelet/config.yaml.kubeadm2ha',
  '  mv -f -- /var/lib/kubelet/config.yaml.kubeadm2ha /var/lib/kubelet/config.yaml',
  'fi',
  'fingerprint > "$marker.part"',
  'mv -f -- "$marker.part" "$marker"',
  'echo state=restored',
  'echo "previous=$aside"',
].join('\n');

export function createKubernetesBackupActivities(deps: ActivityDeps) {
  return {
    async backupKubernetesConfig({ host, stamp }: BackupKubernetesConfigInput): Promise<KubernetesConfigBackup> {
      return withFailures(async () => {
        if (!stampPattern.test(stamp)) throw new InvalidInputError(`invalid backup stamp ${stamp}`);
        const path = `${HOST_BACKUP_DIR}/${stamp}.tar`;
        const r = await deps.session(host).run(['sh', '-c', backupScript, 'sh', path, ...BACKUP_PATHS], {
          action: 'back up /etc/kubernetes',
          timeoutMs: 5 * 60_000,
        });
        const f = parseKeyValues(r.stdout);
        return {
          host: host.target.name,
          path,
          sha256: f.get('sha256') ?? '',
          size: Number(f.get('size')),
          entries: Number(f.get('entries')),
          included: (f.get('included') ?? '')
            .split(' ')
            .filter(Boolean)
            .map((p) => `/${p}`),
        };
      });
    },

    async restoreKubernetesConfig({
      host,
      backup,
      stamp,
    }: RestoreKubernetesConfigInput): Promise<KubernetesConfigRestore> {
      return withFailures(async () => {
        if (!stampPattern.test(stamp)) throw new InvalidInputError(`invalid restore stamp ${stamp}`);
        if (!/^[0-9a-f]{64}$/.test(backup.sha256)) throw new InvalidInputError('invalid backup sha256');
        // Only our own backups: the path decides what replaces /etc/kubernetes.
        if (!new RegExp(`^${HOST_BACKUP_DIR}/\\d{8}T\\d{6}Z\\.tar$`).test(backup.path)) {
          throw new InvalidInputError(`not a kubeadm2ha backup: ${backup.path}`);
        }
        const r = await deps.session(host).run(['sh', '-c', restoreScript, 'sh', backup.path, backup.sha256, stamp], {
          action: 'restore /etc/kubernetes',
          timeoutMs: 5 * 60_000,
        });
        const out = parseKeyValues(r.stdout);
        return {
          host: host.target.name,
          previous: out.get('previous') ?? `/etc/kubernetes.before-restore-${stamp}`,
          restored: out.get('state') === 'restored',
        };
      });
    },
  };
}
