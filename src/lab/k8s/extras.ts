// The non-Kubernetes programs the lab's Kubernetes images need: the upstream pause program, CoreDNS with kubeadm's
// plugin set, and `hello`, a tiny HTTP server for test pods. scripts/build-k8s-extras.sh builds them from the Go
// module proxy and Debian's gcc into a cache keyed by versions and a hash of the sources (it owns the build, its
// lock and its done-marker); this module only runs it and hands back paths. Cold: a few minutes (CoreDNS); warm:
// a fraction of a second.
import { spawn } from 'node:child_process';
import { constants as fsConstants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What kubeadm 1.34 deploys (constants PauseVersion, CoreDNSVersion). 1.33 asks for pause 3.10 (same pause.c) and
 * CoreDNS 1.12.0; the lab serves these to both. Must match the script's COREDNS_VERSION / PAUSE_VERSION. */
export const K8S_EXTRAS_VERSIONS = { pause: '3.10.1', coredns: '1.12.1' } as const;

export interface K8sExtras {
  binDir: string;
  pause: string;
  coredns: string;
  hello: string;
  pauseVersion: typeof K8S_EXTRAS_VERSIONS.pause;
  corednsVersion: typeof K8S_EXTRAS_VERSIONS.coredns;
}

export class K8sExtrasBuildError extends Error {
  override name = 'K8sExtrasBuildError';
}

export interface EnsureK8sExtrasOptions {
  /** Progress lines of the build (default: stderr). */
  log?: (line: string) => void;
  /** Extra environment for the build (KUBEADM2HA_CACHE_DIR, KUBEADM2HA_BUILD_JOBS, GOCACHE…). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Paths of pause, coredns and hello, building them first when the cache lacks them. Safe to call from several
 * processes at once: the script's lock makes one build and the others wait.
 */
export async function ensureK8sExtras(opts: EnsureK8sExtrasOptions = {}): Promise<K8sExtras> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const script = buildScriptPath();
  const { code, stdout, tail } = await run('bash', [script], { ...process.env, ...opts.env }, log);
  const binDir = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !binDir) {
    throw new K8sExtrasBuildError(`${script} failed (exit ${code ?? 'signal'}):\n${tail.join('\n')}`);
  }
  const extras: K8sExtras = {
    binDir,
    pause: join(binDir, 'pause'),
    coredns: join(binDir, 'coredns'),
    hello: join(binDir, 'hello'),
    pauseVersion: K8S_EXTRAS_VERSIONS.pause,
    corednsVersion: K8S_EXTRAS_VERSIONS.coredns,
  };
  for (const path of [extras.pause, extras.coredns, extras.hello]) {
    try {
      await access(path, fsConstants.X_OK);
    } catch {
      throw new K8sExtrasBuildError(`${script} reported ${binDir} but ${path} is not executable`);
    }
  }
  return extras;
}

/** scripts/build-k8s-extras.sh of this checkout, found by walking up from this module (works from src/ and dist/). */
function buildScriptPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'scripts', 'build-k8s-extras.sh');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new K8sExtrasBuildError('cannot find scripts/build-k8s-extras.sh above the lab module');
    dir = up;
  }
}

/** Runs the script: stderr lines go to the log (and a tail is kept for errors), stdout is collected. */
function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<{ code: number | null; stdout: string; tail: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let partial = '';
    const tail: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        log(line);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial) {
        tail.push(partial);
        log(partial);
      }
      resolve({ code, stdout, tail });
    });
  });
}
