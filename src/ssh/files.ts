// File transfer over exec. Upload streams the content through `cat` on a channel's stdin: measured as fast as
// SFTP on the lab (229–309 vs 287–472 MB/s; both far above what a cluster setup moves), it needs no sftp-server
// subsystem (some hardened hosts disable it), and the same `sudo -n sh -c` wrapper that runs commands also writes
// root-owned files for a non-root login, which SFTP cannot do.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { InvalidInputError } from '../errors.js';
import type { Command, RunOptions, RunResult } from './exec.js';

export interface PutFileOptions {
  /** Permission bits, e.g. 0o600 for anything secret. */
  mode: number;
  owner?: string;
  group?: string;
  timeoutMs?: number;
}

/** What putFile needs from a session: running a command with stdin. */
export interface Runner {
  readonly name: string;
  run(command: Command, opts?: RunOptions): Promise<RunResult>;
}

// $1 path, $2 mode (octal), $3 owner[:group] or empty. Prints sha256, then mode/owner/group; nothing if absent.
const probeScript = 'if [ -f "$1" ]; then sha256sum < "$1" | cut -d" " -f1; stat -c "%a %U %G" -- "$1"; fi';

// $1 path, $2 mode, $3 owner[:group] or empty, $4 expected sha256. The temp file lives in the target directory so
// the final `mv` is a rename(2) on one filesystem: readers see the old file or the new one, never a partial one,
// and any failure before it leaves the old file alone. mktemp creates the file 0600, so a secret is never
// readable by others, even mid-upload.
const uploadScript = [
  'set -e',
  // mv onto a directory would move the file *into* it and report success.
  '[ ! -d "$1" ] || { echo "$1 is a directory" >&2; exit 1; }',
  // Not $(dirname …): command substitution eats trailing newlines, which a directory name may end with.
  'dir=${1%/*}; [ -n "$dir" ] || dir=/',
  'mkdir -p -- "$dir"',
  'tmp=$(mktemp "$dir/.kubeadm2ha.XXXXXX")',
  'trap \'rm -f -- "$tmp"\' EXIT',
  'cat > "$tmp"',
  '[ "$(sha256sum < "$tmp" | cut -d" " -f1)" = "$4" ] || { echo "upload truncated: checksum differs" >&2; exit 1; }',
  'chmod "$2" "$tmp"',
  'if [ -n "$3" ]; then chown "$3" "$tmp"; fi',
  'mv -f -- "$tmp" "$1"',
  'trap - EXIT',
].join('\n');

const fixMetaScript = 'set -e; chmod "$2" -- "$1"; if [ -n "$3" ]; then chown "$3" -- "$1"; fi';

export async function putFile(
  host: Runner,
  remotePath: string,
  content: Buffer | string,
  opts: PutFileOptions,
): Promise<{ changed: boolean }> {
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  const sha = createHash('sha256').update(data).digest('hex');
  return upload(host, remotePath, sha, () => data, opts);
}

/**
 * putFile for content too large to hold in memory (an etcd snapshot): `open` gives a fresh stream of the content
 * whose sha256 the caller already knows. The same atomic, checksum-verified, skip-if-equal upload.
 */
export function putStream(
  host: Runner,
  remotePath: string,
  sha256: string,
  open: () => Readable,
  opts: PutFileOptions,
): Promise<{ changed: boolean }> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new InvalidInputError(`invalid sha256 for ${remotePath}`);
  return upload(host, remotePath, sha256, open, opts);
}

async function upload(
  host: Runner,
  remotePath: string,
  sha: string,
  content: () => Buffer | Readable,
  opts: PutFileOptions,
): Promise<{ changed: boolean }> {
  if (!remotePath.startsWith('/')) throw new InvalidInputError(`remote path must be absolute: ${remotePath}`);
  if (!Number.isInteger(opts.mode) || opts.mode < 0 || opts.mode > 0o7777) {
    throw new InvalidInputError(`invalid file mode ${opts.mode} for ${remotePath}`);
  }
  const mode = opts.mode.toString(8);
  const ownership = opts.owner
    ? `${opts.owner}${opts.group ? `:${opts.group}` : ''}`
    : opts.group
      ? `:${opts.group}`
      : '';
  const args = ['sh', remotePath, mode, ownership];
  const t = opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs };

  // Check first: an unchanged file is not rewritten, so re-runs are cheap and don't touch mtimes (which would
  // restart file-watching daemons such as the kubelet's static pods).
  const probe = await host.run(['sh', '-c', probeScript, ...args], { action: `check ${remotePath}`, ...t });
  const [remoteSha, meta] = probe.stdout.split('\n');
  if (remoteSha === sha) {
    if (meta && metaMatches(meta, mode, opts)) return { changed: false };
    await host.run(['sh', '-c', fixMetaScript, ...args], { action: `set mode of ${remotePath}`, ...t });
    return { changed: true };
  }
  // Content goes through stdin only: never in a command line, a log or an error (run() reports `action` alone).
  await host.run(['sh', '-c', uploadScript, ...args, sha], { stdin: content(), action: `upload ${remotePath}`, ...t });
  return { changed: true };
}

function metaMatches(meta: string, mode: string, opts: PutFileOptions): boolean {
  const [m, owner, group] = meta.trim().split(' ');
  return (
    m !== undefined &&
    parseInt(m, 8) === parseInt(mode, 8) &&
    (opts.owner === undefined || opts.owner === owner) &&
    (opts.group === undefined || opts.group === group)
  );
}
