// Real Kubernetes binaries for the lab, built from the Go module proxy by scripts/build-k8s.sh into a per-version
// cache outside the clone (the script owns the build, its lock and its done-marker; this module only runs it and
// hands back paths). A cold build takes tens of minutes on two cores, a rerun returns at once: see
// test/lab/k8s/README.md for the measured numbers.
import { spawn } from 'node:child_process';
import { constants as fsConstants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubernetesVersion } from '../inventory/schema.js';

/** Versions pinned in test/lab/k8s/ (committed go.mod + go.sum): the newest whose kubelet still runs on the lab's
 * cgroup v1 hosts, and the minor before it, for upgrade tests. */
export const K8S_LAB_VERSIONS = { current: '1.34.12', previous: '1.33.13' } as const;

export const K8S_BINARIES = [
  'kubeadm',
  'kubelet',
  'kubectl',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kube-proxy',
] as const;
export type K8sBinary = (typeof K8S_BINARIES)[number];

export interface K8sBinaries {
  /** Without the leading v, e.g. 1.34.12. */
  version: string;
  binDir: string;
  paths: Record<K8sBinary, string>;
}

export class K8sBuildError extends Error {
  override name = 'K8sBuildError';
}

export interface EnsureK8sOptions {
  /** Progress lines of the build (default: stderr). */
  log?: (line: string) => void;
  /** Extra environment for the build (KUBEADM2HA_CACHE_DIR, KUBEADM2HA_BUILD_JOBS, GOCACHE…). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Paths of the seven Kubernetes commands at `version`, building them first when the cache lacks them. Safe to call
 * from several processes at once: the script's lock makes one build and the others wait.
 */
export async function ensureK8sBinaries(version: string, opts: EnsureK8sOptions = {}): Promise<K8sBinaries> {
  const parsed = KubernetesVersion.safeParse(version);
  if (!parsed.success) {
    throw new K8sBuildError(`invalid Kubernetes version '${version}': ${parsed.error.issues[0]?.message ?? ''}`);
  }
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const script = buildScriptPath();
  const { code, stdout, tail } = await run('bash', [script, parsed.data], { ...process.env, ...opts.env }, log);
  const binDir = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !binDir) {
    throw new K8sBuildError(`${script} ${parsed.data} failed (exit ${code ?? 'signal'}):\n${tail.join('\n')}`);
  }
  const paths = Object.fromEntries(K8S_BINARIES.map((b) => [b, join(binDir, b)])) as Record<K8sBinary, string>;
  for (const path of Object.values(paths)) {
    try {
      await access(path, fsConstants.X_OK);
    } catch {
      throw new K8sBuildError(`${script} reported ${binDir} but ${path} is not executable`);
    }
  }
  return { version: parsed.data, binDir, paths };
}

/** scripts/build-k8s.sh of this checkout, found by walking up from this module (works from src/ and dist/). */
function buildScriptPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'scripts', 'build-k8s.sh');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new K8sBuildError('cannot find scripts/build-k8s.sh above the lab module');
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
