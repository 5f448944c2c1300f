// What `images push` runs on a host, as POSIX sh (bash where a pipeline's failure must count), and how their output
// is read. Every value reaches the scripts as a positional argument, never spliced into the script text.
//
// The host's staging directory holds blobs on their way into containerd: <hex>.partial grows as bytes arrive (a
// dropped connection leaves it, and the next attempt appends from its size: the transfer resumes at the blob that
// was cut), and is renamed to <hex> only once its sha256 and size are right. An import then hands the staged blobs
// and an index naming the images to `ctr -n k8s.io images import`, the namespace the kubelet's CRI reads.
import type { Descriptor } from '../images/oci-layout.js';

export const STAGING_DIR = '/var/lib/kubeadm2ha/images';
/** Appends stdin to one blob's partial file: what the operator's stream and a relay key's forced command run. */
export const RECEIVE_PATH = `${STAGING_DIR}/receive`;
/** Where a relaying host keeps its throwaway key and the receiver's host keys while it sends. */
export const RELAY_DIR = '/var/lib/kubeadm2ha/relay';

/** The forced command of a relay key: the blob name comes in $SSH_ORIGINAL_COMMAND and must be 64 hex digits, so a
 * leaked key can do nothing but append to a staged blob (whose digest is checked before anything uses it). */
export const RECEIVE_SCRIPT = `#!/bin/sh
# kubeadm2ha images push: append stdin to one staged blob (see src/activities/images-host.ts)
set -eu
hex=\${1:-\${SSH_ORIGINAL_COMMAND:-}}
case "$hex" in ''|*[!0-9a-f]*) echo "receive: bad blob name" >&2; exit 2;; esac
[ \${#hex} -eq 64 ] || { echo "receive: bad blob name" >&2; exit 2; }
if [ "$(id -u)" != 0 ]; then exec sudo -n "$0" "$hex"; fi
exec cat >> "${STAGING_DIR}/blobs/sha256/$hex.partial"
`;

/** $1 staging dir. Sections: the k8s.io images, the content store's digests, the staged files with sizes. */
export const STATE_SCRIPT = [
  'set -e',
  'mkdir -p "$1/blobs/sha256"',
  'chmod 0700 "$1"',
  'echo "# images"',
  'ctr -n k8s.io images ls',
  'echo "# content"',
  'ctr -n k8s.io content ls -q',
  'echo "# staged"',
  'for f in "$1"/blobs/sha256/*; do if [ -f "$f" ]; then echo "${f##*/} $(stat -c %s "$f")"; fi; done',
].join('\n');

export interface HostImageState {
  /** Reference → manifest digest, as `ctr -n k8s.io images ls` lists them. */
  images: Map<string, string>;
  content: Set<string>;
  /** Staged file name (hex or hex.partial) → size. */
  staged: Map<string, number>;
}

export function parseState(out: string): HostImageState {
  const s: HostImageState = { images: new Map(), content: new Set(), staged: new Map() };
  let section = '';
  for (const line of out.split('\n')) {
    if (line.startsWith('# ')) {
      section = line.slice(2).trim();
      continue;
    }
    const f = line.trim().split(/\s+/);
    if (!f[0]) continue;
    if (section === 'images') {
      if (f[0] !== 'REF' && f[2]?.startsWith('sha256:')) s.images.set(f[0], f[2]);
    } else if (section === 'content') {
      if (f[0].startsWith('sha256:')) s.content.add(f[0]);
    } else if (section === 'staged' && f[1] !== undefined) {
      s.staged.set(f[0], Number(f[1]));
    }
  }
  return s;
}

/** $1 staging dir, $2 hex, $3 size. Prints ok, short <size>, missing, or bad <size> <sha256> (the file removed). */
export const COMPLETE_SCRIPT = [
  'f="$1/blobs/sha256/$2"',
  'if [ -f "$f" ]; then echo ok; exit 0; fi',
  'if [ ! -f "$f.partial" ]; then echo missing; exit 0; fi',
  's=$(stat -c %s "$f.partial")',
  'if [ "$s" -lt "$3" ]; then echo "short $s"; exit 0; fi',
  'h=$(sha256sum < "$f.partial" | cut -d" " -f1)',
  'if [ "$h" = "$2" ] && [ "$s" -eq "$3" ]; then mv -f "$f.partial" "$f"; echo ok; exit 0; fi',
  'rm -f "$f.partial"',
  'echo "bad $s $h"',
].join('\n');

/** $1 staging dir: hand every complete staged blob and index.json to containerd, then drop what was staged. */
export const IMPORT_SCRIPT = [
  'set -e',
  'cd "$1"',
  "tar -cf - --exclude='*.partial' oci-layout index.json blobs | ctr -n k8s.io images import -",
  'find blobs/sha256 -type f ! -name "*.partial" -delete',
  'rm -f index.json',
].join('\n');

/** $1 digest, $2 offset, $3 key, $4 known_hosts, $5 port, $6 user, $7 address, $8 hex: stream a blob, from
 * `offset` on, out of this host's staging directory (received, not yet imported: relaying need not wait for the
 * import) or else its containerd content store, into the receiver's forced command. */
export const RELAY_SEND_SCRIPT = [
  'set -o pipefail',
  `staged=${STAGING_DIR}/blobs/sha256/$8`,
  'if [ -f "$staged" ]; then tail -c +"$(( $2 + 1 ))" "$staged"; else ctr -n k8s.io content get "$1" | tail -c +"$(( $2 + 1 ))"; fi |',
  '  ssh -F /dev/null -i "$3" -o IdentitiesOnly=yes -o UserKnownHostsFile="$4" -o GlobalKnownHostsFile=/dev/null \\',
  '    -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=5 \\',
  '    -o ServerAliveCountMax=3 -p "$5" -l "$6" -- "$7" "$8"',
].join('\n');

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
