// The lab's apt mirror: a repository directory (apt-repo.ts) served read-only over plain HTTP by a process in the
// root network namespace, bound to the lab bridge address, so only that lab's hosts reach it — the hosts have no
// route outside 10.200.0.0/16, and the mirror is the one package source they can use. Python's http.server only
// answers GET and HEAD (read-only by construction) and is on every machine that has apt.
// Also: the sources line for the mirror and a script that points a host's apt at exactly that mirror.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { quote } from '../../src/ssh/quote.js';
import { startLabService, type LabService } from '../lab-service.js';

export interface AptMirrorOptions {
  labDir: string;
  /** The lab bridge address (lab.bridgeAddress). */
  address: string;
  /** Default 8080: each lab has its own bridge address, so labs never compete for the port. */
  port?: number;
  repoDir: string;
  /** Outlive this process, with a detached lab. */
  detached?: boolean;
}

export interface AptMirror {
  /** http://<address>:<port>/ — what goes in the inventory's cluster.packages.mirror. */
  url: string;
  service: LabService;
  stop(): Promise<void>;
}

export async function startAptMirror(o: AptMirrorOptions): Promise<AptMirror> {
  const port = o.port ?? 8080;
  const repoDir = resolve(o.repoDir);
  if (!existsSync(`${repoDir}/Packages`)) throw new Error(`${repoDir} is not an apt repository (no Packages file)`);
  // Debian's interpreter, not whatever python3 a version manager puts first on PATH.
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const service = await startLabService({
    labDir: o.labDir,
    name: `apt-mirror-${port}`,
    argv: [python, '-m', 'http.server', '--bind', o.address, '--directory', repoDir, String(port)],
    cwd: repoDir,
    // Unbuffered, so the request log in the service's log file is current when a test reads it.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONUNBUFFERED: '1', LANG: 'C.UTF-8' },
    ready: { host: o.address, port },
    ...(o.detached !== undefined && { detached: o.detached }),
  });
  return { url: `http://${o.address}:${port}/`, service, stop: () => service.stop() };
}

/** Where a host keeps the mirror's key and sources (one place, so a rerun replaces rather than adds). */
export const MIRROR_KEYRING_PATH = '/etc/apt/keyrings/kubeadm2ha-lab.gpg';
export const MIRROR_SOURCES_PATH = '/etc/apt/sources.list.d/kubeadm2ha.list';
/** Where the host's own sources go, kept so they can be put back. */
export const SOURCES_ASIDE_DIR = '/etc/apt/sources-aside.kubeadm2ha';

/** The one-line-style source for a flat repository: signed-by the key file on the host, or trusted=yes (unsigned). */
export function aptSourceLine(url: string, keyPath?: string): string {
  if (!/^https?:\/\/[^\s\]]+$/.test(url)) throw new Error(`not an http(s) URL: ${url}`);
  if (keyPath !== undefined && !/^\/[^\s\]]+$/.test(keyPath)) throw new Error(`not an absolute path: ${keyPath}`);
  const base = url.endsWith('/') ? url : `${url}/`;
  return `deb [${keyPath ? `signed-by=${keyPath}` : 'trusted=yes'}] ${base} ./`;
}

export interface MirrorOnlyOptions {
  url: string;
  /** The repository's binary public key (AptRepo.keyringFile); without it the source is trusted=yes. */
  keyringFile?: string;
  /** Default ['kubeadm', 'kubelet', 'kubectl']: packages of these names already in the host's dpkg database that
   * did not come from this mirror are purged, so the lab host starts like a fresh node. (Lab hosts inherit the
   * machine's packages; a machine with Google Cloud SDK's `kubectl 1:528…` would otherwise shadow ours by epoch.) */
  purgeForeign?: readonly string[];
  /** Default true: run apt-get update at the end. */
  update?: boolean;
}

/**
 * A shell script that points the host's apt at exactly the mirror: its own sources (sources.list and
 * sources.list.d/*) moved to SOURCES_ASIDE_DIR, the key installed, one sources file for the mirror, and the package
 * lists refreshed — lists of sources that are gone are dropped by that update, so apt knows only the mirror.
 */
export async function mirrorOnlyAptScript(o: MirrorOnlyOptions): Promise<string> {
  const keyring = o.keyringFile ? await readFile(o.keyringFile) : undefined;
  const line = aptSourceLine(o.url, keyring ? MIRROR_KEYRING_PATH : undefined);
  const purge = o.purgeForeign ?? ['kubeadm', 'kubelet', 'kubectl'];
  const lines = [
    'set -e',
    `mkdir -p ${SOURCES_ASIDE_DIR}`,
    `for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do`,
    `  [ -e "$f" ] || continue`,
    `  [ "$f" = ${MIRROR_SOURCES_PATH} ] || mv "$f" ${SOURCES_ASIDE_DIR}/`,
    'done',
  ];
  if (keyring) {
    lines.push(
      'mkdir -p /etc/apt/keyrings',
      `echo ${quote(keyring.toString('base64'))} | base64 -d > ${MIRROR_KEYRING_PATH}.tmp`,
      `chmod 644 ${MIRROR_KEYRING_PATH}.tmp && mv ${MIRROR_KEYRING_PATH}.tmp ${MIRROR_KEYRING_PATH}`,
    );
  } else {
    lines.push(`rm -f ${MIRROR_KEYRING_PATH}`);
  }
  lines.push(`echo ${quote(line)} > ${MIRROR_SOURCES_PATH}`);
  if (purge.length) {
    // Ours carry pkgs.k8s.io's -1.1 revision and no epoch; anything else of that name is not from the mirror.
    lines.push(
      `for p in ${purge.map(quote).join(' ')}; do`,
      `  v=$(dpkg-query -W -f='\${db:Status-Abbrev}|\${Version}' "$p" 2>/dev/null || true)`,
      '  case "$v" in',
      `    ii*'|'*:*) dpkg --purge "$p" >/dev/null ;;`,
      `    ii*'|'*-1.1) ;;`,
      `    ii*) dpkg --purge "$p" >/dev/null ;;`,
      '  esac',
      'done',
    );
  }
  // --error-on=any: an unreachable mirror is an error, not a warning apt-get would exit 0 after.
  if (o.update ?? true) lines.push('apt-get update -q --error-on=any -o Acquire::Retries=0 >/dev/null');
  return lines.join('\n') + '\n';
}
