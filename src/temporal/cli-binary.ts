// The pinned Temporal CLI (it *is* the dev server, with SQLite and the Web UI embedded). No release downloads are
// reachable from our machines, only the Go module proxy, so we build it with `go install` once per version into the
// cache. v1.5.1 is the newest tag `go install` can build (later tags carry a replace directive).
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cacheDir } from '../paths.js';
import { acquireDirLock } from './process-util.js';

export const TEMPORAL_CLI_VERSION = '1.5.1';
const MODULE = `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`;
// v1.5.1 keeps the version variable in the public package; it moved to internal/ in v1.6.
const VERSION_VAR = 'github.com/temporalio/cli/temporalcli.Version';

/** Where the binary for the pinned version lives once built. */
export function temporalCliCachePath(): string {
  return cacheDir('temporal-cli', TEMPORAL_CLI_VERSION, 'bin', 'temporal');
}

export class TemporalCliError extends Error {
  override name = 'TemporalCliError';
}

export interface EnsureCliOptions {
  /** Progress lines while building (default: stderr). */
  log?: (line: string) => void;
  /** How long to wait for another process's build (default 20 min; a cold build takes ~3 min). */
  lockTimeoutMs?: number;
}

/**
 * Path of the Temporal CLI binary: $KUBEADM2HA_TEMPORAL_CLI if set, else the cached build, building it first when
 * missing. Safe to call from several processes at once: one builds, the others wait on the lock.
 */
export async function ensureTemporalCli(opts: EnsureCliOptions = {}): Promise<string> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const override = process.env.KUBEADM2HA_TEMPORAL_CLI;
  if (override) {
    if (!(await isExecutable(override))) {
      throw new TemporalCliError(`KUBEADM2HA_TEMPORAL_CLI=${override} is not an executable file`);
    }
    return override;
  }
  const target = temporalCliCachePath();
  if (await isExecutable(target)) return target;

  const lockDir = cacheDir('temporal-cli', TEMPORAL_CLI_VERSION, '.build.lock');
  await acquireLock(lockDir, opts.lockTimeoutMs ?? 20 * 60_000, log);
  try {
    // Another process may have finished the build while we waited for the lock.
    if (await isExecutable(target)) return target;
    await build(target, log);
    return target;
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function acquireLock(lockDir: string, timeoutMs: number, log: (line: string) => void): Promise<void> {
  await acquireDirLock(lockDir, {
    timeoutMs,
    intervalMs: 1000,
    onWait: () =>
      log(`kubeadm2ha: another process is building the Temporal CLI ${TEMPORAL_CLI_VERSION}; waiting for it…`),
  });
}

async function build(target: string, log: (line: string) => void): Promise<void> {
  await checkGo();
  // Build into a private GOBIN next to the final one and rename: a half-written binary never sits at `target`.
  const tmpBin = cacheDir('temporal-cli', TEMPORAL_CLI_VERSION, `.tmp-bin-${process.pid}`);
  await rm(tmpBin, { recursive: true, force: true });
  await mkdir(tmpBin, { recursive: true });
  const started = Date.now();
  log(`kubeadm2ha: building Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (one-time, about 3 minutes)…`);
  // Without it the user stares at a silent terminal during the long link step.
  const ticker = setInterval(
    () => log(`kubeadm2ha:   …still building (${Math.round((Date.now() - started) / 1000)} s)`),
    20_000,
  );
  try {
    const args = ['install', '-v', '-trimpath', '-ldflags', `-s -w -X ${VERSION_VAR}=${TEMPORAL_CLI_VERSION}`, MODULE];
    const { code, tail } = await run('go', args, { ...process.env, CGO_ENABLED: '0', GOBIN: tmpBin }, (line) => {
      // `go install -v` names each package as it compiles: a cheap progress indicator.
      if (line.startsWith('go: downloading')) log(`kubeadm2ha:   ${line}`);
      else if (!line.includes('/')) log(`kubeadm2ha:   ${line}`);
    });
    if (code !== 0) {
      throw new TemporalCliError(`go install ${MODULE} failed (exit ${code}):\n${tail.join('\n')}`);
    }
    await mkdir(dirname(target), { recursive: true });
    await rename(join(tmpBin, 'temporal'), target);
    log(
      `kubeadm2ha: Temporal CLI ${TEMPORAL_CLI_VERSION} built in ${Math.round((Date.now() - started) / 1000)} s: ${target}`,
    );
  } finally {
    clearInterval(ticker);
    await rm(tmpBin, { recursive: true, force: true });
  }
}

async function checkGo(): Promise<void> {
  try {
    const { code } = await run('go', ['version'], process.env, () => {});
    if (code === 0) return;
  } catch {
    // ENOENT lands here.
  }
  throw new TemporalCliError(
    `the Temporal CLI ${TEMPORAL_CLI_VERSION} is not built yet and building it needs Go >= 1.25 on PATH ` +
      `(install Go from https://go.dev/dl or your package manager), or set KUBEADM2HA_TEMPORAL_CLI to an existing ` +
      `temporal binary.`,
  );
}

/** Runs a command, feeding each output line to onLine and keeping the last lines for error messages. */
function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  onLine: (line: string) => void,
): Promise<{ code: number | null; tail: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    let partial = '';
    const onData = (chunk: Buffer): void => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        onLine(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial) tail.push(partial);
      resolve({ code, tail });
    });
  });
}
