// etcd for the lab, built from the Go module proxy by scripts/build-etcd.sh into a per-version cache outside the
// clone, the way k8s-binaries.ts gets Kubernetes. Why not Debian's: kubeadm 1.33/1.34 refuse an external etcd older
// than 3.5.24 and Debian 12 ships 3.4.23. The script owns the build, its lock and its done-marker; this module only
// runs it and hands back paths.
import { spawn } from 'node:child_process';
import { constants as fsConstants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The etcd kubeadm 1.34 deploys as its stacked default (constants.DefaultEtcdVersion 3.6.5-0); kubeadm 1.33's is
 * 3.5.24-0, and both accept an external etcd >= 3.5.24, so one lab etcd serves both. Pinned in test/lab/k8s/etcd. */
export const ETCD_LAB_VERSION = '3.6.5';

export interface EtcdBinaries {
  /** e.g. 3.6.5 */
  version: string;
  binDir: string;
  etcd: string;
  etcdctl: string;
  etcdutl: string;
}

export class EtcdBuildError extends Error {
  override name = 'EtcdBuildError';
}

export interface EnsureEtcdOptions {
  /** Progress lines of the build (default: stderr). */
  log?: (line: string) => void;
  /** Extra environment for the build (KUBEADM2HA_CACHE_DIR, KUBEADM2HA_BUILD_JOBS, GOCACHE…). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Paths of etcd, etcdctl and etcdutl at `version`, building them first when the cache lacks them. Safe to call from
 * several processes at once: the script's lock makes one build and the others wait.
 */
export async function ensureEtcdBinaries(
  version: string = ETCD_LAB_VERSION,
  opts: EnsureEtcdOptions = {},
): Promise<EtcdBinaries> {
  const v = version.replace(/^v/, '');
  if (!/^3\.\d+\.\d+$/.test(v)) throw new EtcdBuildError(`invalid etcd version '${version}': expected one like 3.6.5`);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const script = buildScriptPath();
  const { code, stdout, tail } = await runStreaming('bash', [script, v], { ...process.env, ...opts.env }, log);
  const binDir = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !binDir) {
    throw new EtcdBuildError(`${script} ${v} failed (exit ${code ?? 'signal'}):\n${tail.join('\n')}`);
  }
  const paths = { etcd: join(binDir, 'etcd'), etcdctl: join(binDir, 'etcdctl'), etcdutl: join(binDir, 'etcdutl') };
  for (const path of Object.values(paths)) {
    try {
      await access(path, fsConstants.X_OK);
    } catch {
      throw new EtcdBuildError(`${script} reported ${binDir} but ${path} is not executable`);
    }
  }
  return { version: v, binDir, ...paths };
}

/** scripts/build-etcd.sh of this checkout, found by walking up from this module (works from src/ and dist/). */
function buildScriptPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'scripts', 'build-etcd.sh');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new EtcdBuildError('cannot find scripts/build-etcd.sh above the lab module');
    dir = up;
  }
}

/** Runs the script: stderr lines go to the log as they come (a cold build takes minutes) and the last 30 are kept
 * for the error message; stdout is collected. */
function runStreaming(
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
    const line = (l: string) => {
      tail.push(l);
      if (tail.length > 30) tail.shift();
      log(l);
    };
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      lines.forEach(line);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial) line(partial);
      resolve({ code, stdout, tail });
    });
  });
}
