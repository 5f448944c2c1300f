// HostSession: what the rest of kubeadm2ha holds to work on one host. Thin: it decides sudo and defaults, and
// delegates to exec.ts (commands) and files.ts (uploads) over the pooled Connection.
import type { Readable, Writable } from 'node:stream';
import type { Connection } from './connection.js';
import {
  buildCommand,
  describe,
  execRaw,
  toRunResult,
  type Command,
  type RawResult,
  type RunOptions,
  type RunResult,
} from './exec.js';
import { putFile, putStream, type PutFileOptions } from './files.js';
import { ensureSudo } from './sudo.js';
import { CommandFailedError, InvalidInputError } from '../errors.js';

export interface HostSession {
  /** Inventory name of the host, used as the prefix of every error message. */
  readonly name: string;
  run(command: Command, opts?: RunOptions): Promise<RunResult>;
  /** Opens the connection (and checks sudo) without running anything; what `run` would wait for first. */
  ready?(): Promise<void>;
  /** Atomic, idempotent upload; `changed: false` when the remote file already had this content and mode. */
  putFile(remotePath: string, content: Buffer | string, opts: PutFileOptions): Promise<{ changed: boolean }>;
  getFile(remotePath: string, opts?: { timeoutMs?: number }): Promise<Buffer>;
  /** putFile for large content: `open` yields a fresh stream of bytes whose sha256 is `sha256`. */
  putStream(
    remotePath: string,
    sha256: string,
    open: () => Readable,
    opts: PutFileOptions,
  ): Promise<{ changed: boolean }>;
  /** Stream a remote file into `sink` (not ended here) with backpressure: for files too large to hold in memory. */
  downloadFile(remotePath: string, sink: Writable, opts?: { timeoutMs?: number }): Promise<void>;
}

export interface SessionSettings {
  sudo: boolean;
  commandTimeoutMs: number;
  /** The cancellation of whatever runs the command now (the current activity's), when no `signal` is given. */
  cancellation?: () => AbortSignal | undefined;
}

/** Files read with getFile may be this large; a larger one is an error, never a silently cut file. */
export const MAX_FILE_BYTES = 64 << 20;

/** Killing a cancelled command's process group takes one short command. */
const KILL_TIMEOUT_MS = 10_000;

export class PooledHostSession implements HostSession {
  constructor(
    readonly name: string,
    private readonly connection: () => Promise<{ conn: Connection; sudo: boolean }>,
    private readonly settings: Omit<SessionSettings, 'sudo'>,
  ) {}

  async ready(): Promise<void> {
    const { conn, sudo } = await this.connection();
    if (sudo) await ensureSudo(conn);
  }

  async run(command: Command, opts: RunOptions = {}): Promise<RunResult> {
    const { conn, sudo } = await this.connection();
    if (sudo) await ensureSudo(conn);
    const timeoutMs = opts.timeoutMs ?? this.settings.commandTimeoutMs;
    // Only a cancellable command reports its pgid (the one thing a kill on cancel needs).
    const signal = opts.signal ?? this.settings.cancellation?.();
    const line = buildCommand(command, {
      ...(opts.env ? { env: opts.env } : {}),
      sudo,
      timeoutMs,
      reportPid: Boolean(signal),
    });
    const action = describe(command, opts.action);
    const raw = await execRaw(
      conn,
      line,
      action,
      {
        timeoutMs,
        ...(opts.maxStdoutBytes !== undefined && { maxStdoutBytes: opts.maxStdoutBytes }),
        ...(signal && { signal, killGroup: (pgid: number) => this.killGroup(conn, sudo, pgid) }),
      },
      opts.stdin,
    );
    return toRunResult(this.name, raw, action, { allowNonZero: opts.allowNonZero ?? false, timeoutMs });
  }

  putFile(remotePath: string, content: Buffer | string, opts: PutFileOptions): Promise<{ changed: boolean }> {
    return putFile(this, remotePath, content, opts);
  }

  putStream(
    remotePath: string,
    sha256: string,
    open: () => Readable,
    opts: PutFileOptions,
  ): Promise<{ changed: boolean }> {
    return putStream(this, remotePath, sha256, open, opts);
  }

  async getFile(remotePath: string, opts: { timeoutMs?: number } = {}): Promise<Buffer> {
    return (await this.cat(remotePath, opts)).stdout;
  }

  async downloadFile(remotePath: string, sink: Writable, opts: { timeoutMs?: number } = {}): Promise<void> {
    await this.cat(remotePath, opts, sink);
  }

  private async cat(remotePath: string, opts: { timeoutMs?: number }, sink?: Writable): Promise<RawResult> {
    if (!remotePath.startsWith('/')) throw new InvalidInputError(`remote path must be absolute: ${remotePath}`);
    const { conn, sudo } = await this.connection();
    if (sudo) await ensureSudo(conn);
    const timeoutMs = opts.timeoutMs ?? this.settings.commandTimeoutMs;
    const action = `read ${remotePath}`;
    const line = buildCommand(['cat', '--', remotePath], { sudo, timeoutMs });
    const raw = await execRaw(conn, line, action, { timeoutMs, maxStdoutBytes: MAX_FILE_BYTES }, undefined, sink);
    toRunResult(this.name, { ...raw, stdout: Buffer.alloc(0) }, action, { timeoutMs }); // throws on failure
    if (raw.stdoutCutBytes)
      throw new CommandFailedError(this.name, action, raw.code, `file larger than ${MAX_FILE_BYTES} bytes: not read`);
    return raw;
  }

  /** SIGKILL to a whole process group on the host, over a channel of its own (sshd refuses signal requests). */
  private async killGroup(conn: Connection, sudo: boolean, pgid: number): Promise<void> {
    const line = buildCommand(['kill', '-KILL', '--', `-${pgid}`], { sudo, timeoutMs: KILL_TIMEOUT_MS });
    await execRaw(conn, line, 'kill cancelled command', { timeoutMs: KILL_TIMEOUT_MS });
  }
}
