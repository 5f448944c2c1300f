// Running one command over a Connection: building the command line (quoting, env, sudo), feeding stdin, collecting
// output, enforcing the timeout, and turning the outcome into a result or one of our errors.
import { Readable, type Writable } from 'node:stream';
import { CommandFailedError, CommandTimeoutError, HostUnreachableError, InvalidInputError } from '../errors.js';
import type { Connection } from './connection.js';
import { quote, shellCommand } from './quote.js';
import { OutputTail } from './output-tail.js';
import { redactedTail } from './redact.js';

/** What to run: an argv (every element quoted, no shell syntax) or a POSIX sh script (run with `sh -c`). */
export type Command = readonly string[] | { readonly script: string };

export interface RunOptions {
  /** Default: the pool's commandTimeoutSeconds. The clock starts when the command starts (channel open). */
  timeoutMs?: number;
  /** A stream is piped with backpressure (large uploads never sit in memory whole). */
  stdin?: string | Buffer | Readable;
  /** Variables for the command, set with `env` (sshd refuses most `env` requests unless AcceptEnv allows them). */
  env?: Record<string, string>;
  /** Return non-zero exits instead of throwing CommandFailedError. */
  allowNonZero?: boolean;
  /** Short human name for errors and logs ('kubeadm join'); never the command line, which may hold secrets. */
  action?: string;
  /** Keep at most this much of stdout, the end of it (default MAX_STDOUT_BYTES); ask for more only when needed. */
  maxStdoutBytes?: number;
  /** Cancels the command: its whole process group on the host is killed. Default: the pool's (the activity's). */
  signal?: AbortSignal;
}

/** Default stdout kept per command: the last 1 MiB. Far above what any check parses; a flood is cut, not stored. */
export const MAX_STDOUT_BYTES = 1 << 20;
/** stderr kept per command: its last 256 KiB (failures quote only its last lines). */
export const MAX_STDERR_BYTES = 256 << 10;

/** First line on stderr of a command built with `reportPid`: its process group id, for killing it on cancel. */
export const PGID_MARKER = 'kubeadm2ha-pgid:';
const PGID_LINE = new RegExp(`^${PGID_MARKER}(\\d+)$`);

export interface RunResult {
  /** Exit status; null when the command was killed by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** From sending the exec request to the channel's close, so never less than the command's own run time. */
  durationMs: number;
  /** Bytes cut from the front of stdout / stderr (only the tail was kept); absent when nothing was cut. */
  stdoutCutBytes?: number;
  stderrCutBytes?: number;
}

export interface RawResult {
  code: number | null;
  /** Signal name without the SIG prefix ('KILL') when the command was killed by one. */
  signal?: string;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
  stdoutCutBytes?: number;
  stderrCutBytes?: number;
}

/**
 * How long the remote `timeout` waits after TERM before it sends KILL, for a command that ignores TERM. Short: a
 * command that has outlived its timeout gets only a brief chance to clean up.
 */
export const KILL_AFTER_SECONDS = 2;

/**
 * Our own deadline is the remote one plus this: it fires only when the remote `timeout` could not report back (the
 * connection hangs), and then we stop waiting and close the channel.
 */
export const BACKSTOP_MS = (KILL_AFTER_SECONDS + 3) * 1000;

export interface BuildOptions {
  env?: Record<string, string>;
  sudo?: boolean;
  /** Wrap the command in coreutils `timeout`, so the host itself kills it (see execRaw for why). */
  timeoutMs?: number;
  /**
   * Print the command's process group id on stderr first (PGID_MARKER), so a cancelled command can be killed. `sh`
   * echoes its pid, then execs `timeout`, which keeps that pid and makes it the group of everything it runs.
   */
  reportPid?: boolean;
}

/**
 * Build the remote command line: `[sudo -n -- sh -c '…'] [timeout -k 2 <s>] [env K=V…] <command>`.
 *
 * argv[0] must be a program, not a shell builtin (`cd`, `command`, `export`): with `timeout` or `env` in front it is
 * exec'd, not interpreted. Use `{ script }` for anything that needs the shell.
 */
export function buildCommand(command: Command, opts: BuildOptions = {}): string {
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
  if (opts.timeoutMs !== undefined) {
    if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0)
      throw new InvalidInputError(`invalid command timeout ${opts.timeoutMs} ms: expected a positive number`);
    // Inside sudo, so that `timeout` runs as root and may kill what the command started as root. Without
    // --foreground, timeout puts the command in its own process group and signals the whole group, so children
    // (sh -c 'a; b', `sleep` in a loop) die too, while daemons that detached with setsid survive, as they should.
    line = `timeout -k ${KILL_AFTER_SECONDS} ${(opts.timeoutMs / 1000).toFixed(3)} ${line}`;
  }
  if (opts.reportPid) line = `echo ${PGID_MARKER}$$ >&2; exec ${line}`;
  // -n: never prompt for a password (it would hang until the timeout); fail fast instead.
  if (opts.sudo) return `sudo -n -- sh -c ${quote(line)}`;
  return opts.reportPid ? `sh -c ${quote(line)}` : line;
}

export function describe(command: Command, action: string | undefined): string {
  if (action) return action;
  // Only the program name: arguments may be secrets.
  return Array.isArray(command) ? String((command as readonly string[])[0]) : 'script';
}

/** Where stdout goes instead of memory: piped with backpressure, not ended (the caller ends and flushes it). */
export type StdoutSink = Writable;

export interface ExecLimits {
  /** The command's timeout, as given to buildCommand: reported in CommandTimeoutError. */
  timeoutMs: number;
  /** When we stop waiting ourselves; default timeoutMs + BACKSTOP_MS. */
  backstopMs?: number;
  /** Default MAX_STDOUT_BYTES. */
  maxStdoutBytes?: number;
  /** On abort, `killGroup` gets the pgid the command reported (built with `reportPid`) and kills it host-side. */
  signal?: AbortSignal;
  killGroup?: (pgid: number) => Promise<void>;
}

/** After a kill on cancel, how long we wait for the channel to close before we stop waiting anyway. */
const CANCEL_CLOSE_MS = 5_000;

/**
 * Run `line` on `conn` and collect everything. Does not judge the exit code.
 *
 * Killing a command that overran is the host's job (the `timeout` wrapper from buildCommand), not ours: sshd refuses
 * channel "signal" requests for root logins (OpenSSH runs root sessions without the privilege-separated child and
 * logs "session signalling requires privilege separation"), a non-root login could not signal what runs under sudo
 * anyway, and closing the channel does not stop a command that never writes. The host-side deadline also holds when
 * this process dies or the link drops. Our own timer is only a backstop for a hung connection.
 */
export async function execRaw(
  conn: Connection,
  line: string,
  action: string,
  limits: ExecLimits,
  stdin?: string | Buffer | Readable,
  stdoutSink?: StdoutSink,
): Promise<RawResult> {
  const label = conn.endpoint.label;
  limits.signal?.throwIfAborted();
  const { channel, client, release, sentAt: started } = await conn.exec(line);
  return new Promise<RawResult>((resolve, reject) => {
    const out = new OutputTail(limits.maxStdoutBytes ?? MAX_STDOUT_BYTES);
    const err = new OutputTail(MAX_STDERR_BYTES);
    // The head of stderr until its first newline, while we look for the pgid marker.
    let head: Buffer | undefined = limits.killGroup ? Buffer.alloc(0) : undefined;
    let pgid: number | undefined;
    let cancelled = false;
    let code: number | null = null;
    let signal: string | undefined;
    let exited = false;
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      limits.signal?.removeEventListener('abort', onAbort);
      release();
      fn();
    };
    const kill = (): void => {
      if (pgid === undefined || !limits.killGroup) return;
      const group = pgid;
      limits.killGroup(group).then(
        () => undefined,
        () => undefined, // the channel's close (or the backstop below) settles us either way
      );
      setTimeout(() => {
        channel.close();
        finish(() => reject(cancelReason(limits.signal)));
      }, CANCEL_CLOSE_MS).unref();
    };
    // Cancelled (the activity was, or its heartbeat timed out): kill the command's process group on the host, so
    // that a retry cannot overlap the attempt it replaces. Closing the channel alone would leave it running.
    const onAbort = (): void => {
      cancelled = true;
      if (pgid !== undefined) kill();
      else if (!limits.killGroup) {
        channel.close();
        finish(() => reject(cancelReason(limits.signal)));
      }
      // else: killed as soon as the command reports its pgid (the first thing it does).
    };
    limits.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => {
        // Settle now rather than wait for the close, which never comes if the connection is what hangs.
        channel.close();
        finish(() => reject(new CommandTimeoutError(label, action, limits.timeoutMs)));
      },
      limits.backstopMs ?? limits.timeoutMs + BACKSTOP_MS,
    );
    if (stdoutSink) {
      channel.pipe(stdoutSink, { end: false });
      stdoutSink.on('error', (e: Error) => {
        channel.close();
        finish(() => reject(e));
      });
    } else channel.on('data', (d: Buffer) => out.push(d));
    channel.stderr.on('data', (d: Buffer) => {
      if (!head) return err.push(d);
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(10);
      if (nl < 0 && head.length < 64) return;
      const first = head.subarray(0, nl < 0 ? head.length : nl).toString('latin1');
      const m = PGID_LINE.exec(first);
      if (m) {
        pgid = Number(m[1]);
        err.push(head.subarray(nl + 1));
        if (cancelled) kill();
      } else err.push(head);
      head = undefined;
    });
    const noteExit = (c: unknown, sig: unknown): void => {
      if (typeof c === 'number') {
        exited = true;
        code = c;
      } else if (c === null && typeof sig === 'string') {
        exited = true;
        code = null;
        signal = sig.replace(/^SIG/, ''); // ssh2 reports 'SIGKILL'; keep the bare name, as the protocol has it
      }
    };
    // The 'exit' event alone is not enough: when exec's reply, the output, exit-status and close arrive in one TCP
    // read (a fast command), ssh2 emits 'exit' synchronously before our listeners exist (they are attached after the
    // exec callback's promise resolves) and the status is lost. ssh2 repeats it as the arguments of 'close', which
    // it emits only after the output stream ended, so that is where we take it from; 'exit' stays as a fallback.
    channel.on('exit', noteExit);
    channel.on('error', (e: Error) =>
      finish(() => reject(new HostUnreachableError(label, `${action}: channel error: ${e.message}`))),
    );
    channel.on('close', (c?: unknown, sig?: unknown) => {
      if (head) err.push(head);
      if (cancelled) {
        finish(() => reject(cancelReason(limits.signal)));
        return;
      }
      if (!exited) noteExit(c, sig);
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
        stdout: out.toBuffer(),
        stderr: err.toBuffer(),
        durationMs: performance.now() - started,
      };
      if (signal) result.signal = signal;
      if (out.dropped) result.stdoutCutBytes = out.dropped;
      if (err.dropped) result.stderrCutBytes = err.dropped;
      finish(() => resolve(result));
    });
    // Always send EOF: a command that reads stdin must not wait for input that will never come.
    if (stdin instanceof Readable) {
      stdin.on('error', (e: Error) => {
        channel.close();
        finish(() => reject(e));
      });
      stdin.pipe(channel);
    } else channel.end(stdin);
  });
}

/**
 * Did the remote `timeout` end this command? It exits 124 after TERM worked; after KILL it dies itself (exit
 * signal KILL, or 137 through a shell). Checked against the elapsed time, so a command that exits 124 on its own
 * before its deadline is still an ordinary failure.
 */
export function timedOut(raw: RawResult, timeoutMs: number): boolean {
  const byTimeout = raw.code === 124 || raw.code === 137 || raw.signal === 'KILL';
  return byTimeout && raw.durationMs >= timeoutMs;
}

/**
 * Judge a raw result: a command the remote `timeout` ended becomes CommandTimeoutError (even with allowNonZero: it
 * did not finish); other non-zero exits become CommandFailedError with redacted stderr, unless allowed.
 */
export function toRunResult(
  label: string,
  raw: RawResult,
  action: string,
  opts: { allowNonZero?: boolean; timeoutMs?: number } = {},
): RunResult {
  if (opts.timeoutMs !== undefined && timedOut(raw, opts.timeoutMs))
    throw new CommandTimeoutError(label, action, opts.timeoutMs);
  const allowNonZero = opts.allowNonZero ?? false;
  const stderr = raw.stderr.toString('utf8');
  if (raw.code !== 0 && !allowNonZero) {
    // Neither an exit status nor a signal: sshd closed the channel without saying how the command ended (it could
    // not start it, or sshd itself was stopped). Say so rather than print a bare "exit signal".
    const how = raw.signal
      ? `killed by SIG${raw.signal}`
      : raw.code === null
        ? 'no exit status: sshd closed the channel without reporting how the command ended'
        : '';
    // Redacted before it is cut, so a cut can never split a key block past the redaction.
    const tail = [lastChars(redactedTail(stderr), MAX_FAILURE_STDERR_CHARS), how, cutNote(raw)]
      .filter(Boolean)
      .join('\n');
    throw new CommandFailedError(label, action, raw.code, tail);
  }
  const result: RunResult = { code: raw.code, stdout: raw.stdout.toString('utf8'), stderr, durationMs: raw.durationMs };
  if (raw.stdoutCutBytes) result.stdoutCutBytes = raw.stdoutCutBytes;
  if (raw.stderrCutBytes) result.stderrCutBytes = raw.stderrCutBytes;
  return result;
}

/** Says what was cut, so nobody mistakes a tail for the whole output. */
export function cutNote(raw: Pick<RawResult, 'stdoutCutBytes' | 'stderrCutBytes'>): string {
  const parts = [
    raw.stdoutCutBytes ? `stdout: first ${raw.stdoutCutBytes} bytes cut` : '',
    raw.stderrCutBytes ? `stderr: first ${raw.stderrCutBytes} bytes cut` : '',
  ].filter(Boolean);
  return parts.length ? `(output cut to its tail; ${parts.join(', ')})` : '';
}

/** What a cancelled command rejects with: the signal's reason (the SDK's CancelledFailure), as an Error. */
function cancelReason(signal: AbortSignal | undefined): Error {
  const r: unknown = signal?.reason;
  return r instanceof Error ? r : new Error(`command cancelled${r === undefined ? '' : `: ${JSON.stringify(r)}`}`);
}

/** stderr quoted in a failure: its end, this long at most (a single endless line must not fill history). */
const MAX_FAILURE_STDERR_CHARS = 4096;

function lastChars(s: string, n: number): string {
  return s.length <= n ? s : `…${s.slice(s.length - n + 1)}`;
}
