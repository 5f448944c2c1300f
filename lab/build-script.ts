// Running one of the cache-building scripts (scripts/build-k8s.sh, build-etcd.sh, build-k8s-extras.sh): each owns
// its build, lock and done-marker and prints the finished bin directory on stdout; this module runs it, streams its
// progress, and checks that what it names is there. One runner for all of them, so they fail the same clear way.
import { spawn } from 'node:child_process';
import { constants as fsConstants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildScriptOptions {
  /** Progress lines of the build (default: stderr). */
  log?: (line: string) => void;
  /** Extra environment for the build (KUBEADM2HA_CACHE_DIR, KUBEADM2HA_BUILD_JOBS, GOCACHE…). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs scripts/<name> with `args` and returns the bin directory it prints, after checking that each of
 * `executables` is an executable file in it. Failures become `makeError(message)` with the script's last lines.
 */
export async function runBuildScript(
  name: string,
  args: readonly string[],
  executables: readonly string[],
  opts: BuildScriptOptions,
  makeError: (message: string) => Error,
): Promise<string> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const script = scriptPath(name, makeError);
  const { code, stdout, tail } = await run('bash', [script, ...args], { ...process.env, ...opts.env }, log);
  const binDir = stdout.trim().split('\n').pop() ?? '';
  const invocation = [script, ...args].join(' ');
  if (code !== 0 || !binDir) throw makeError(`${invocation} failed (exit ${code ?? 'signal'}):\n${tail.join('\n')}`);
  for (const exe of executables) {
    try {
      await access(join(binDir, exe), fsConstants.X_OK);
    } catch {
      throw makeError(`${invocation} reported ${binDir} but ${join(binDir, exe)} is not executable`);
    }
  }
  return binDir;
}

/** scripts/<name> of this checkout, found by walking up from this module (works from src/ and dist/). */
function scriptPath(name: string, makeError: (message: string) => Error): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'scripts', name);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw makeError(`cannot find scripts/${name} above the lab module`);
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
