// The CLI as a user runs it in end-to-end tests: the real bin script from source, as a child process we can wait
// for (with a deadline), leave running, freeze or kill -9; and lab hosts frozen from outside their pid namespace.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Lab } from '../../lab/index.js';
import { netnsName } from '../../lab/names.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
export const bin = join(root, 'bin', 'kubeadm2ha.js');
const env = { ...process.env, KUBEADM2HA_FROM_SOURCE: '1', KUBEADM2HA_LOG_LEVEL: 'WARN' };

export interface CliResult {
  /** null when the deadline killed it. */
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI to its end, or kills it (SIGKILL) at the deadline. `extraEnv`: e.g. a state dir of the test's own. */
export function cli(args: string[], deadlineMs = 0, extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: root, env: { ...env, ...extraEnv }, maxBuffer: 16 << 20, timeout: deadlineMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (err.killed ? null : Number(err.code ?? 1)) : 0,
          stdout,
          stderr,
          ms: performance.now() - t0,
        }),
    );
  });
}

/** Starts the CLI in the background (output discarded). */
export const started = (args: string[]): ChildProcess =>
  spawn(process.execPath, [bin, ...args], { cwd: root, env, stdio: 'ignore' });

/** kill -9, resolved once the process is gone. */
export function killed(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

/** SIGSTOP/SIGCONT every process of a lab host (its sshd and sessions), from outside its pid namespace. */
export async function setFrozen(lab: Lab, index: number, frozen: boolean): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'pids', netnsName(lab.id, index)]);
  const pids = stdout.split(/\s+/).filter(Boolean);
  if (pids.length === 0) throw new Error(`no processes in h${index}`);
  await run('kill', [frozen ? '-STOP' : '-CONT', ...pids]);
}
