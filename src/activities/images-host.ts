// What `images push` runs on a host, as POSIX sh (bash where a pipeline's failure must count), and how their output
// is read. Every value reaches the scripts as a positional argument, never spliced into the script text.
//
// The host's staging directory holds blobs on their way into containerd: <hex>.partial grows as bytes arrive (a
// dropped connection leaves it, and the next attempt appends from its size: the transfer resumes at the blob that
// was cut), and is renamed to <hex> only once its sha256 and size are right. An import then hands the staged blobs
// and an index naming the images to `ctr -n k8s.io images import`, the namespace the kubelet's CRI reads.
import type { Descriptor } from '../images/oci-layout.js';
import { quote } from '../ssh/quote.js';

export const STAGING_DIR = '/var/lib/kubeadm2ha/images';
/** Appends stdin to one blob's partial file: what the operator's stream and a relay key's forced command run. */
export const RECEIVE_PATH = `${STAGING_DIR}/receive`;
/** Where a relaying host keeps its throwaway key and the receiver's host keys while it sends. */
export const RELAY_DIR = '/var/lib/kubeadm2ha/relay';

/** containerd's GC root label (docs/garbage-collection.md: keep this object and what it references), with which the
 * receiver holds each blob it ingested until the import references it; its own value, so cleanup finds exactly ours.
 * ctr 1.6 cannot ingest under a lease (no lease flag or variable), so a label it is. */
export const GC_ROOT_LABEL = 'containerd.io/gc.root';
export const GC_ROOT_VALUE = 'kubeadm2ha-images-push';

/** The receiver of a push, and the forced command of a relay key: stdin is a stream of frames, each a header line
 * "<hex> <offset> <size>" and then the blob's bytes from `offset` to `size`, appended to <hex>.partial (cut back to
 * `offset` first). One connection carries every blob a host lacks. A whole blob goes into containerd's content store
 * (k8s.io) as it arrives, through `ctr content ingest` with the expected digest and size: containerd hashes what it
 * stores anyway, so that is the check on arrival, and the import later only has to unpack. The ingest's ref is the
 * blob's own, kubeadm2ha-<hex>, and containerd keeps a cut one under it: the attempt that resumes the blob hashes the
 * whole file here and hands it to containerd under the same ref, and ctr, reading a file, seeks to where containerd's
 * copy stopped (from a pipe it cannot: a blob that arrives whole while containerd holds an older copy goes the same
 * way). A damaged arrival leaves containerd's copy under the ref, which ctr cannot abort and an ingest of the right
 * bytes would only resume: it is committed as what it is (a blob no image holds, left to containerd's garbage
 * collector), so no ingest stays behind and the next attempt starts clean. One line per blob: "ok <hex>" (renamed to
 * its final name: staged for the hosts fed from here, and for the import if containerd does not have it) or "bad <hex>
 * <size> <sha256>" (removed, to be sent again). A stream cut inside a blob leaves its .partial, prints "short <hex>
 * <size>" and exits 3: the next attempt resumes there. Headers are checked (64 hex digits, numbers), so a leaked relay
 * key can do nothing but stage blobs whose digests are checked before anything uses them. */
export const RECEIVE_SCRIPT = `#!/bin/sh
# kubeadm2ha images push: receive a stream of blobs into the staging directory (see src/activities/images-host.ts)
set -eu
if [ "$(id -u)" != 0 ]; then exec sudo -n "$0"; fi
d="${STAGING_DIR}/blobs/sha256"
mkdir -p "$d"
# One receiver at a time: an attempt that timed out may still be writing when its retry starts (two appending to one
# .partial would mix their bytes). The lock is held until this receiver and everything it started have exited.
exec 9>"${STAGING_DIR}/receive.lock"
flock -w 120 9 || { echo "receive: an earlier delivery to this host still runs" >&2; exit 4; }
e="${STAGING_DIR}/ingest.err"
# $1 hex, $2 size, stdin: into containerd under the blob's own ref (ctr's complaint in $e).
ingest() { ctr -n k8s.io content ingest --expected-size "$2" --expected-digest "sha256:$1" "kubeadm2ha-$1" >/dev/null 2>"$e"; }
# $1 hex, $2 size, $3 a file of that size: containerd refused the bytes it holds under the ref ($e says so). Commit
# them as what they are (without an expected digest), the one way ctr has to end an ingest: an unreferenced blob, which
# containerd's garbage collector removes as it does any blob no image or lease holds.
discard() {
  grep -q 'unexpected commit digest' "$e" || return 1
  ctr -n k8s.io content ingest --expected-size "$2" "kubeadm2ha-$1" < "$3" >/dev/null 2>&1
}
# $1 hex: containerd's copy kept from its garbage collector until the import references it (CLEANUP_SCRIPT lets it
# go). Nothing else holds a blob just ingested, and containerd collects at start, after 100 writes and after any
# delete (an import ending deletes its lease). Not there (not taken, or collected before this): the staged copy is
# what the import takes then. A blob with a GC root label already (an operator's own) is left as it is: ours would
# overwrite it, and the release would then take the blob's only root away.
keep() {
  o=$(ctr -n k8s.io content ls -q "digest==sha256:$1,"${quote(`labels."${GC_ROOT_LABEL}"`)} 2>/dev/null) && [ -z "$o" ] &&
    ctr -n k8s.io content label "sha256:$1" ${quote(`${GC_ROOT_LABEL}=${GC_ROOT_VALUE}`)} >/dev/null 2>&1 || true
}
while IFS=' ' read -r hex off size; do
  case "$hex" in ''|*[!0-9a-f]*) echo "receive: bad blob name" >&2; exit 2;; esac
  [ \${#hex} -eq 64 ] || { echo "receive: bad blob name" >&2; exit 2; }
  case "$off" in ''|*[!0-9]*) echo "receive: bad offset" >&2; exit 2;; esac
  case "$size" in ''|*[!0-9]*) echo "receive: bad size" >&2; exit 2;; esac
  [ "$off" -le "$size" ] || { echo "receive: offset past size" >&2; exit 2; }
  f="$d/$hex"
  truncate -s "$off" "$f.partial"
  h=
  again=
  if [ "$off" -eq 0 ]; then
    # tee -p: should ctr stop early, the blob still arrives whole in the file (and the stream stays in step).
    if head -c "$size" | tee -p -a "$f.partial" | ingest "$hex" "$size"; then h=$hex
    # Not taken (containerd holds an older copy, which ctr cannot seek a pipe to, say): again from the file, once the
    # bytes are known, unless containerd is not there at all.
    elif ! grep -q 'failed to dial' "$e"; then again=1
    fi
  else
    head -c "$((size - off))" >> "$f.partial"
    again=1
  fi
  s=$(stat -c %s "$f.partial")
  if [ "$s" -lt "$size" ]; then echo "short $hex $s"; echo "receive: stream cut in blob $hex at $s of $size bytes" >&2; exit 3; fi
  if [ -z "$h" ]; then
    h=$(sha256sum < "$f.partial" | cut -d' ' -f1)
    # From the file: containerd resumes its own copy (or, when that copy is damaged, gets it discarded first).
    if [ "$h" = "$hex" ] && [ -n "$again" ]; then
      ingest "$hex" "$size" < "$f.partial" || { discard "$hex" "$size" "$f.partial" && ingest "$hex" "$size" < "$f.partial"; } || true
    fi
  fi
  if [ "$h" = "$hex" ]; then keep "$hex"; mv -f "$f.partial" "$f"; echo "ok $hex"; continue; fi
  # Not the blob. containerd refused the same bytes (after resuming its copy with them, for a resumed blob): discard.
  if [ -z "$again" ] || ! ingest "$hex" "$size" < "$f.partial"; then discard "$hex" "$size" "$f.partial" || true; fi
  rm -f "$f.partial"
  echo "bad $hex $s $h"
done
`;

/** A blob as the receiver's stream frames it. */
export interface Frame {
  hex: string;
  offset: number;
  size: number;
}

export const frameHeader = (f: Frame): string => `${f.hex} ${f.offset} ${f.size}\n`;

export type Verdict = { hex: string; ok: true } | { hex: string; ok: false; size: number; sha256: string };

/** The receiver's "ok"/"bad" lines (a "short" line comes with a failed command). */
export function parseVerdicts(out: string): Verdict[] {
  const v: Verdict[] = [];
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'ok' && f[1]) v.push({ hex: f[1], ok: true });
    else if (f[0] === 'bad' && f[1]) v.push({ hex: f[1], ok: false, size: Number(f[2]), sha256: f[3] ?? '?' });
  }
  return v;
}

/** The background import's state, in $1 (the staging dir): none (no background import here), running, done <exit
 * code>, or lost (it died). */
const IMPORT_STATE_LINES = [
  'if [ -f "$1/import.done" ]; then echo "done $(cat "$1/import.done")"',
  'elif [ ! -f "$1/import.pid" ]; then echo none',
  'elif kill -0 "$(cat "$1/import.pid")" 2>/dev/null; then echo running',
  'elif [ -f "$1/import.done" ]; then echo "done $(cat "$1/import.done")"',
  'else echo lost',
  'fi',
];

/** $1 staging dir. Sections: the background import (first, so an import that ends meanwhile is in the lists that
 * follow), the k8s.io images, the content store's digests, the staged files with sizes. */
export const STATE_SCRIPT = [
  'set -e',
  'mkdir -p "$1/blobs/sha256"',
  'chmod 0700 "$1"',
  'echo "# import"',
  ...IMPORT_STATE_LINES,
  'echo "# images"',
  'ctr -n k8s.io images ls',
  'echo "# content"',
  'ctr -n k8s.io content ls -q',
  'echo "# staged"',
  'for f in "$1"/blobs/sha256/*; do if [ -f "$f" ]; then echo "${f##*/} $(stat -c %s "$f")"; fi; done',
].join('\n');

/** $1 staging dir, $2 the receiver's path, $3 its text: a delivery's first command. Installs the receiver, then
 * STATE_SCRIPT's sections and the host's public host keys (a relay's known_hosts), in one round trip. */
export const PREPARE_SCRIPT = [
  'set -e',
  'mkdir -p "${2%/*}"',
  // A retried attempt may run this beside the one it replaces: each writes its own temporary file.
  'printf "%s" "$3" > "$2.new.$$"',
  'chmod 0755 "$2.new.$$"',
  'mv -f "$2.new.$$" "$2"',
  STATE_SCRIPT,
  'echo "# hostkeys"',
  'cat /etc/ssh/ssh_host_*_key.pub 2>/dev/null || true',
].join('\n');

export interface HostImageState {
  /** The background import: none, running, done <code>, lost. */
  importState: string;
  /** Reference → manifest digest, as `ctr -n k8s.io images ls` lists them. */
  images: Map<string, string>;
  content: Set<string>;
  /** Staged file name (hex or hex.partial) → size. */
  staged: Map<string, number>;
  /** The host's public host keys, "type base64" each (PREPARE_SCRIPT only). */
  hostKeys: string[];
}

export function parseState(out: string): HostImageState {
  const s: HostImageState = {
    importState: 'none',
    images: new Map(),
    content: new Set(),
    staged: new Map(),
    hostKeys: [],
  };
  let section = '';
  for (const line of out.split('\n')) {
    if (line.startsWith('# ')) {
      section = line.slice(2).trim();
      continue;
    }
    const f = line.trim().split(/\s+/);
    if (!f[0]) continue;
    if (section === 'import') {
      s.importState = line.trim();
    } else if (section === 'hostkeys') {
      if (f[1]) s.hostKeys.push(`${f[0]} ${f[1]}`);
    } else if (section === 'images') {
      if (f[0] !== 'REF' && f[2]?.startsWith('sha256:')) s.images.set(f[0], f[2]);
    } else if (section === 'content') {
      if (f[0].startsWith('sha256:')) s.content.add(f[0]);
    } else if (section === 'staged' && f[1] !== undefined) {
      s.staged.set(f[0], Number(f[1]));
    }
  }
  return s;
}

/** $1 staging dir: hand index.json, and every complete staged blob containerd's content store does not have yet
 * (the receiver put most there as they arrived), to containerd (k8s.io), which unpacks the images. The blobs stay
 * staged: hosts fed from this one read them from here; CLEANUP_SCRIPT drops them once the host's images are
 * verified. */
export const IMPORT_SCRIPT = [
  'set -e',
  'cd "$1"',
  'have=$(ctr -n k8s.io content ls -q)',
  ': > import.list',
  'for f in blobs/sha256/*; do',
  '  case "$f" in *.partial|*.noingest) continue;; esac',
  '  [ -f "$f" ] || continue',
  '  case "$have" in *"sha256:${f##*/}"*) ;; *) echo "$f" >> import.list;; esac',
  'done',
  'tar -cf - oci-layout index.json -T import.list | ctr -n k8s.io images import -',
].join('\n');

/** $1 staging dir: IMPORT_SCRIPT started in the background, in its own session (hosts fed from this one go on reading the staged blobs;
 * containerd's unpacking is the slow part of a push): import.pid while it runs, import.done with its exit code,
 * import.log. Nothing is started while an earlier one runs. */
export const IMPORT_BACKGROUND_SCRIPT = [
  // $2: IMPORT_SCRIPT's text. The pid is written before this returns, so a later look never misses a starting import.
  'set -e',
  'cd "$1"',
  'if [ -f import.pid ] && [ ! -f import.done ] && kill -0 "$(cat import.pid)" 2>/dev/null; then exit 0; fi',
  'rm -f import.done import.pid',
  'setsid sh -c \'sh -c "$1" sh "$2" > import.log 2>&1; echo $? > import.done\' sh "$2" "$1" < /dev/null > /dev/null 2>&1 &',
  'echo $! > import.pid',
].join('\n');

/** $1 staging dir. Prints none (no background import here), running, done <exit code>, or lost (it died). */
export const IMPORT_STATE_SCRIPT = IMPORT_STATE_LINES.join('\n');

/** $1 staging dir, $3 index.json: the OCI layout's two small files next to the staged blobs, for an import. */
const WRITE_INDEX_LINES = [
  `printf "%s" '{"imageLayoutVersion":"1.0.0"}' > "$1/oci-layout"`,
  'printf "%s" "$3" > "$1/index.json"',
  'chmod 0600 "$1/oci-layout" "$1/index.json"',
];

/** $1 staging dir, $2 IMPORT_SCRIPT's text, $3 index.json: write the index, start the import in the background. */
export const INDEX_AND_BACKGROUND_IMPORT_SCRIPT = ['set -e', ...WRITE_INDEX_LINES, IMPORT_BACKGROUND_SCRIPT].join('\n');

/** $1 staging dir, $2 unused, $3 index.json: write the index and import now. */
export const INDEX_AND_IMPORT_SCRIPT = ['set -e', ...WRITE_INDEX_LINES, IMPORT_SCRIPT].join('\n');

/** $1 directory, $2 the key's length in bytes; stdin: the relay's private key, then its known_hosts. Both 0600. */
export const RELAY_FILES_SCRIPT = [
  'set -e',
  'umask 077',
  'mkdir -p "$1"',
  'head -c "$2" > "$1/key"',
  'cat > "$1/known_hosts"',
].join('\n');

/** Let go of every blob a receiver kept from containerd's GC (GC_ROOT_LABEL with our value taken off); $n: how many. */
const RELEASE_LINES = [
  `kept=$(ctr -n k8s.io content ls -q ${quote(`labels."${GC_ROOT_LABEL}"==${GC_ROOT_VALUE}`)})`,
  'n=0',
  `for b in $kept; do ctr -n k8s.io content label "$b" ${quote(`${GC_ROOT_LABEL}=`)} >/dev/null && n=$((n + 1)); done`,
];

/** RELEASE_LINES on their own, where a push ended without verifying the host's images (a failed or aborted run's
 * undo, uninstall): what was kept and never imported becomes garbage to containerd's GC again. Prints how many blobs
 * it let go; no ctr, nothing to do (prints 0); containerd not answering fails it. Idempotent. */
export const RELEASE_SCRIPT = [
  'set -e',
  'command -v ctr >/dev/null 2>&1 || { echo 0; exit 0; }',
  ...RELEASE_LINES,
  'echo "$n"',
].join('\n');

/** $1 staging dir: once the host's images are verified, let go of the blobs the receiver kept (the images reference
 * those they need), then drop the staged blobs (not a .partial), the index and the background import's files. */
export const CLEANUP_SCRIPT = [
  ...RELEASE_LINES,
  'cd "$1" 2>/dev/null || exit 0',
  'find blobs/sha256 -type f ! -name "*.partial" -delete',
  'rm -f index.json import.list import.pid import.done import.log ingest.err',
].join('\n');

/** How long a relay waits for its sender's copy of a blob to appear or grow before it gives up (the sender's own
 * delivery was cut and is being retried, or it failed): the receiving activity fails and is retried. */
export const RELAY_STALL_SECONDS = 90;

/** OpenSSH's ciphers with AES-GCM first, then the rest of its default set (chacha20-poly1305 and AES-CTR, so a server
 * without GCM still agrees on one). Where the CPU has AES instructions, GCM costs less CPU per byte than OpenSSH's
 * default first choice, chacha20-poly1305: 0.60 against 0.78 CPU-s for 200 MB through one connection (both ends,
 * loopback, OpenSSH 9.2, under load); a relay host spends its CPU on exactly that. */
export const RELAY_GCM_CIPHERS =
  'aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr';

/** A relay's cipher choice: `auto` (RELAY_GCM_CIPHERS where the relaying host's CPU lists the aes flag, else
 * OpenSSH's default), `default` (OpenSSH's own order), or an OpenSSH cipher list. */
export const RELAY_CIPHERS_ENV = 'KUBEADM2HA_RELAY_CIPHERS';

/** The relay cipher choice from the worker's environment (RELAY_CIPHERS_ENV); anything but a plain list is `auto`. */
export function relayCiphers(env: NodeJS.ProcessEnv = process.env): string {
  const v = env[RELAY_CIPHERS_ENV]?.trim();
  return v && /^[a-z0-9@.,-]+$/.test(v) ? v : 'auto';
}

/** $1 key, $2 known_hosts, $3 port, $4 user, $5 address, $6 ciphers (relayCiphers), then "<hex> <offset> <size>" per
 * blob: stream those blobs,
 * framed as RECEIVE_SCRIPT reads them, over one SSH connection into the receiver's forced command. Each comes out of
 * this host's staging directory, or else its containerd content store, or, while this host is still receiving it,
 * from its .partial as that grows: a hop forwards a blob while it arrives, so every host of a push receives at once.
 * The .partial is opened once and read by size (it keeps its inode when renamed once checked, and a cut delivery
 * resumes by appending to it). A blob that does not appear or stops growing for RELAY_STALL_SECONDS, or whose
 * .partial is dropped (it arrived damaged here), ends the stream: the receiver reports where it was cut, and the
 * retry resumes there. Bytes forwarded before this host's check are checked again by the receiver. */
export const RELAY_SEND_SCRIPT = [
  'set -o pipefail',
  'key=$1 kh=$2 port=$3 user=$4 addr=$5 ciphers=$6',
  'shift 6',
  'case "$ciphers" in',
  `  auto) if grep -qw aes /proc/cpuinfo 2>/dev/null; then ciphers=${RELAY_GCM_CIPHERS}; else ciphers=; fi;;`,
  '  default) ciphers=;;',
  'esac',
  `d=${STAGING_DIR}/blobs/sha256`,
  `ticks=$(( ${RELAY_STALL_SECONDS} * 10 ))`,
  // What this host's containerd had when the relay started (blobs it receives now come through the staging dir).
  'content=$(ctr -n k8s.io content ls -q 2>/dev/null) || content=',
  // fd 3: the blob's .partial as it grows; $1 hex, $2 offset, $3 size. Copies bytes [offset, size) once there.
  'follow() {',
  '  local hex=$1 off=$2 size=$3 pos=0 have n idle=0',
  '  while [ "$pos" -lt "$size" ]; do',
  '    have=$(stat -L -c %s /dev/fd/3) || return 1',
  '    [ "$have" -le "$size" ] || have=$size',
  '    if [ "$have" -gt "$pos" ]; then',
  '      idle=0',
  '      if [ "$pos" -lt "$off" ]; then',
  '        n=$(( (have < off ? have : off) - pos ))',
  '        dd bs=1M count="$n" iflag=count_bytes status=none <&3 >/dev/null || return 1',
  '      else',
  '        n=$(( have - pos ))',
  '        dd bs=1M count="$n" iflag=count_bytes status=none <&3 || return 1',
  '      fi',
  '      pos=$(( pos + n ))',
  '    elif [ ! -e "$d/$hex.partial" ] && [ ! -e "$d/$hex" ]; then',
  '      echo "relay: blob $hex was dropped here before it was complete" >&2; return 1',
  '    elif [ $(( idle += 1 )) -gt "$ticks" ]; then',
  '      echo "relay: blob $hex stopped growing at $have of $size bytes" >&2; return 1',
  '    else sleep 0.1',
  '    fi',
  '  done',
  '}',
  'frames() {',
  '  local hex off size idle',
  '  while [ $# -ge 3 ]; do',
  '    hex=$1 off=$2 size=$3 idle=0',
  '    shift 3',
  '    printf "%s %s %s\\n" "$hex" "$off" "$size"',
  '    while :; do',
  // A staged blob was renamed only once its digest was right: its size is the one framed.
  '      if [ -f "$d/$hex" ]; then tail -c +"$(( off + 1 ))" -- "$d/$hex" || return 1; break; fi',
  '      case "$content" in *"sha256:$hex"*)',
  '        ctr -n k8s.io content get "sha256:$hex" | tail -c +"$(( off + 1 ))" | head -c "$(( size - off ))" || return 1',
  '        break;;',
  '      esac',
  // Arriving here now: follow it (opened only if it is still there; renamed meanwhile, the next look finds it).
  '      if { exec 3<"$d/$hex.partial"; } 2>/dev/null; then',
  '        follow "$hex" "$off" "$size" || return 1',
  '        exec 3<&-',
  '        break',
  '      fi',
  // Not here yet: this host's own delivery has not reached it. Look again, up to the stall.
  `      [ $(( idle += 1 )) -le "$ticks" ] || { echo "relay: blob $hex did not arrive here within ${RELAY_STALL_SECONDS} s" >&2; return 1; }`,
  '      sleep 0.1',
  '    done',
  '  done',
  '}',
  // The connection this runs on may die (sshd killed, worker lost) while the stream goes on by itself, and a retry
  // would then append to the receiver's .partial alongside it. An empty line on stderr every 2 s finds out (the write
  // fails once sshd is gone) and stops everything this started (its process group).
  "( trap '' PIPE; while sleep 2 >/dev/null 2>&1; do printf '\\n' >&2 2>/dev/null || kill -TERM 0; done ) &",
  'watchdog=$!',
  'frames "$@" |',
  '  ssh -F /dev/null -i "$key" -o IdentitiesOnly=yes -o UserKnownHostsFile="$kh" -o GlobalKnownHostsFile=/dev/null \\',
  '    -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=5 \\',
  '    -o ServerAliveCountMax=3 -o Compression=no ${ciphers:+-o "Ciphers=$ciphers"} -p "$port" -l "$user" \\',
  '    -- "$addr" receive',
  'rc=$?',
  'kill "$watchdog" 2>/dev/null',
  'exit "$rc"',
].join('\n');

/** $1 staging dir: the bytes staged so far (the receiving end of a relay, watched for heartbeats). */
export const STAGED_BYTES_SCRIPT =
  'find "$1/blobs/sha256" -type f -printf "%s\\n" 2>/dev/null | awk \'{ s += $1 } END { print s + 0 }\'';

/** $1 login user, $2 authorized_keys line. */
export const AUTHORIZE_SCRIPT = [
  'set -e',
  'home=$(getent passwd "$1" | cut -d: -f6)',
  '[ -n "$home" ] || { echo "no home directory for $1" >&2; exit 1; }',
  'mkdir -p "$home/.ssh"',
  'touch "$home/.ssh/authorized_keys"',
  'printf "%s\\n" "$2" >> "$home/.ssh/authorized_keys"',
].join('\n');

/** $1 login user, $2 the key's unique comment: remove its line, keeping the file (inode, owner, mode). */
export const REVOKE_SCRIPT = [
  'set -e',
  'home=$(getent passwd "$1" | cut -d: -f6)',
  'f="$home/.ssh/authorized_keys"',
  '[ -f "$f" ] || exit 0',
  'kept=$(grep -v -F -- "$2" "$f" || true)',
  'if [ -n "$kept" ]; then printf "%s\\n" "$kept" > "$f"; else : > "$f"; fi',
].join('\n');

/** The index.json an import needs: each image under its reference, so containerd (and the kubelet) find it by name. */
export function importIndex(images: readonly { ref: string; manifest: Descriptor }[], architecture: string): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: images.map((i) => ({
      mediaType: i.manifest.mediaType,
      digest: i.manifest.digest,
      size: i.manifest.size,
      platform: { os: 'linux', architecture },
      annotations: {
        'io.containerd.image.name': i.ref,
        'org.opencontainers.image.ref.name': i.ref.slice(i.ref.lastIndexOf(':') + 1),
      },
    })),
  });
}
