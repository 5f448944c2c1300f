// Running one command over a Connection: building the command line (quoting, env, sudo), feeding stdin, collecting
// output, enforcing the timeout, and turning the outcome into a result or one of our errors.
import { CommandFailedError, CommandTimeoutError, HostUnreachableError, InvalidInputError } from '../errors.js';
import type { Connection } from './connection.js';
import { quote, shellCommand } from './quote.js';
import { redactedTail } from './redact.js';

/** What to run: an argv (every element quoted, no shell syntax) or a POSIX sh script (run with `sh -c`). */
export type Command = readonly string[] | { readonly script: string };

export interface RunOptions {
  /** Default: the pool's commandTimeoutSeconds. The clock starts when the command starts (channel open). */
  timeoutMs?: number;
  stdin?: string | Buffer;
  /** Variables for the command, set with `env` (sshd refuses most `env` requests unless AcceptEnv allows them). */
  env?: Record<string, string>;
  /** Return non-zero exits instead of throwing CommandFailedError. */
  allowNonZero?: boolean;
  /** Short human name for errors and logs ('kubeadm join'); never the command line, which may hold secrets. */
  action?: string;
}

export interface RunResult {
  /** Exit status; null when the command was killed by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RawResult {
  code: number | null;
  signal?: string;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
}

/** Build the remote command line. With `sudo`, the whole thing runs as `sudo -n -- sh -c <quoted>`. */
export function buildCommand(command: Command, opts: { env?: Record<string, string>; sudo?: boolean } = {}): string {
  let line = Array.isArray(command)
    ? shellCommand(command as readonly string[])
    : shellCommand(['sh', '-c', (command as { script: string }).script]);
  const env = Object.entries(opts.env ?? {});
  if (env.length > 0) {
    for (const [k] of env) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
        throw new InvalidInputError(`invalid environment variable name ${JSON.stringify(k)}`);
    }
    line = `${shellCommand(['env', ...env.map(([k, v]) => `${k}=${v}`)])} ${line}`;
  }
  // -n: never prompt for a password (it would hang until the timeout); fail fast instead.
  return opts.sudo ? `sudo -n -- sh -c ${quote(line)}` : line;
}

export function describe(command: Command, action: string | undefined): string {
  if (action) return action;
  // Only the program name: arguments may be secrets.
  return Array.isArray(command) ? String((command as readonly string[])[0]) : 'script';
}

/** Run `line` on `conn` and collect everything. Does not judge the exit code. */
export async function execRaw(
  conn: Connection,
  line: string,
  action: string,
  timeoutMs: number,
  stdin?: string | Buffer,
): Promise<RawResult> {
  const label = conn.endpoint.label;
  const { channel, client, release } = await conn.exec(line);
  const started = performance.now();
  return new Promise<RawResult>((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let code: number | null = null;
    let signal: string | undefined;
    let exited = false;
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      release();
      fn();
    };
    const timer = setTimeout(() => {
      // Kill the remote process (OpenSSH ≥ 7.9 honours signal requests) and close the channel. Settle now rather
      // than wait for the close, which never comes if the connection is what hangs.
      try {
        channel.signal('KILL');
      } catch {
        /* the channel may already be closing */
      }
      channel.close();
      finish(() => reject(new CommandTimeoutError(label, action, timeoutMs)));
    }, timeoutMs);
    channel.on('data', (d: Buffer) => out.push(d));
    channel.stderr.on('data', (d: Buffer) => err.push(d));
    channel.on('exit', (c: number | null, sig?: string) => {
      exited = true;
      code = typeof c === 'number' ? c : null;
      if (sig) signal = sig;
    });
    channel.on('error', (e: Error) =>
      finish(() => reject(new HostUnreachableError(label, `${action}: channel error: ${e.message}`))),
    );
    channel.on('close', () => {
      // No exit status and the connection gone: the link dropped mid-command. We cannot know whether it ran,
      // so we do not re-run it; the caller (an idempotent activity) decides.
      if (!exited && !conn.isLive(client)) {
        finish(() =>
          reject(new HostUnreachableError(label, `${action}: connection lost while the command was running`)),
        );
        return;
      }
      const result: RawResult = {
        code,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err),
        durationMs: performance.now() - started,
      };
      if (signal) result.signal = signal;
      finish(() => resolve(result));
    });
    // Always send EOF: a command that reads stdin must not wait for input that will never come.
    channel.end(stdin);
  });
}

/** Judge a raw result: non-zero exits become CommandFailedError with redacted stderr, unless allowed. */
export function toRunResult(label: string, raw: RawResult, action: string, allowNonZero: boolean): RunResult {
  const stderr = raw.stderr.toString('utf8');
  if (raw.code !== 0 && !allowNonZero) {
    const tail = redactedTail(stderr) + (raw.signal ? `${stderr ? '\n' : ''}killed by SIG${raw.signal}` : '');
    throw new CommandFailedError(label, action, raw.code, tail);
  }
  return { code: raw.code, stdout: raw.stdout.toString('utf8'), stderr, durationMs: raw.durationMs };
}
