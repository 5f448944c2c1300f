// HostSession: what the rest of kubeadm2ha holds to work on one host. Thin: it decides sudo and defaults, and
// delegates to exec.ts (commands) and files.ts (uploads) over the pooled Connection.
import type { Connection } from './connection.js';
import { buildCommand, describe, execRaw, toRunResult, type Command, type RunOptions, type RunResult } from './exec.js';
import { putFile, type PutFileOptions } from './files.js';

export interface HostSession {
  /** Inventory name of the host, used as the prefix of every error message. */
  readonly name: string;
  run(command: Command, opts?: RunOptions): Promise<RunResult>;
  /** Atomic, idempotent upload; `changed: false` when the remote file already had this content and mode. */
  putFile(remotePath: string, content: Buffer | string, opts: PutFileOptions): Promise<{ changed: boolean }>;
  getFile(remotePath: string, opts?: { timeoutMs?: number }): Promise<Buffer>;
}

export interface SessionSettings {
  sudo: boolean;
  commandTimeoutMs: number;
}

export class PooledHostSession implements HostSession {
  constructor(
    readonly name: string,
    private readonly connection: () => Promise<{ conn: Connection; sudo: boolean }>,
    private readonly settings: Omit<SessionSettings, 'sudo'>,
  ) {}

  async run(command: Command, opts: RunOptions = {}): Promise<RunResult> {
    const { conn, sudo } = await this.connection();
    const env = opts.env ? { env: opts.env } : {};
    const line = buildCommand(command, { ...env, sudo });
    const action = describe(command, opts.action);
    const raw = await execRaw(conn, line, action, opts.timeoutMs ?? this.settings.commandTimeoutMs, opts.stdin);
    return toRunResult(this.name, raw, action, opts.allowNonZero ?? false);
  }

  putFile(remotePath: string, content: Buffer | string, opts: PutFileOptions): Promise<{ changed: boolean }> {
    return putFile(this, remotePath, content, opts);
  }

  async getFile(remotePath: string, opts: { timeoutMs?: number } = {}): Promise<Buffer> {
    const { conn, sudo } = await this.connection();
    const action = `read ${remotePath}`;
    const line = buildCommand(['cat', '--', remotePath], { sudo });
    const raw = await execRaw(conn, line, action, opts.timeoutMs ?? this.settings.commandTimeoutMs);
    toRunResult(this.name, { ...raw, stdout: Buffer.alloc(0) }, action, false); // throws on failure
    return raw.stdout;
  }
}
