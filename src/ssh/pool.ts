// SshPool: one reused connection per endpoint (user@host:port, plus the jump host when tunnelled), created lazily
// by the first command on a HostSession. Holds the pool-wide limits and the parsed ssh config.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { SshSettings } from '../inventory/schema.js';
import { FailureType, HostUnreachableError, KubeadmHaError } from '../errors.js';
import { authMethods, KeyCache } from './auth.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { Limiter } from './limiter.js';
import { resolveTarget, type ResolvedEndpoint, type SshTarget } from './resolve.js';
import { PooledHostSession, type HostSession } from './session.js';
import { loadSshConfig, type SshConfigBlock } from './ssh-config.js';

export interface SshPoolOptions {
  /** Channels (concurrent commands) per connection; sshd's MaxSessions defaults to 10. Default 8. */
  maxChannelsPerConnection?: number;
  /** Handshakes in flight across the pool; sshd's MaxStartups starts dropping at 10. Default 8. */
  maxConcurrentConnects?: number;
  /** Default 15 s; three missed answers close the connection, so a vanished host is noticed within ~45 s. */
  keepaliveIntervalMs?: number;
  /** For tests: where `~` is (default keys, ~/.ssh/config, ~/.ssh/known_hosts). */
  homeDir?: string;
  /** Agent socket; default $SSH_AUTH_SOCK. */
  agentSocket?: string;
  /** Where a command's cancellation comes from when it is given none (the worker: the current activity's). */
  cancellation?: () => AbortSignal | undefined;
}

export class SshPool {
  private readonly connections = new Map<string, { conn: Connection; isJump: boolean }>();
  private readonly connectLimiter: Limiter;
  private readonly keys = new KeyCache();
  private config: Promise<SshConfigBlock[]> | undefined;
  private readonly home: string;

  constructor(
    private readonly settings: SshSettings,
    private readonly opts: SshPoolOptions = {},
  ) {
    this.home = opts.homeDir ?? homedir();
    this.connectLimiter = new Limiter(opts.maxConcurrentConnects ?? 8);
  }

  /** A session for `target`. Cheap: nothing connects until the first command. */
  session(target: SshTarget): HostSession {
    let endpoint: Promise<{ conn: Connection; sudo: boolean }> | undefined;
    const connection = (): Promise<{ conn: Connection; sudo: boolean }> => {
      endpoint ??= this.connectionFor(target);
      // A failed resolution (bad ssh config) should not stick: retry it on the next call.
      endpoint.catch(() => (endpoint = undefined));
      return endpoint;
    };
    return new PooledHostSession(target.name, connection, {
      commandTimeoutMs: this.settings.commandTimeoutSeconds * 1000,
      ...(this.opts.cancellation && { cancellation: this.opts.cancellation }),
    });
  }

  /** Close every connection. Sessions stay usable: their next command reconnects. */
  async closeAll(): Promise<void> {
    const all = [...this.connections.values()];
    this.connections.clear();
    // Targets first, then jump hosts their tunnels run through.
    for (const c of all.filter((c) => !c.isJump)) c.conn.close();
    for (const c of all.filter((c) => c.isJump)) c.conn.close();
    await Promise.resolve();
  }

  /** Handshakes completed so far, per connection key (tests use it to prove reuse). */
  stats(): Array<{ key: string; connects: number; lastConnectMs: number }> {
    return [...this.connections.entries()].map(([key, c]) => ({
      key,
      connects: c.conn.connects,
      lastConnectMs: c.conn.lastConnectMs,
    }));
  }

  private async connectionFor(target: SshTarget): Promise<{ conn: Connection; sudo: boolean }> {
    const config = await this.sshConfig();
    const resolved = resolveTarget(target, this.settings, config, this.home);
    let tunnel: ConnectionOptions['tunnel'];
    let key = endpointKey(resolved.target);
    if (resolved.jump) {
      const jump = this.connection(resolved.jump, endpointKey(resolved.jump), true);
      key += ` via ${endpointKey(resolved.jump)}`;
      const { host, port } = resolved.target;
      const via = endpointKey(resolved.jump);
      const timeoutMs = this.settings.connectTimeoutSeconds * 1000;
      tunnel = async () => {
        const client = await jump.get();
        return new Promise((resolve, reject) => {
          // The bastion answers a forward only once its own TCP connect to the target ends, which for a target
          // that drops SYNs takes minutes, all the while holding one of the pool's connect slots: bound it like a
          // connect. A stream that arrives after we gave up is closed at once.
          let late = false;
          const timer = setTimeout(() => {
            late = true;
            reject(
              new HostUnreachableError(
                target.name,
                `bastion ${via} opened no connection to ${host}:${port} within ${timeoutMs} ms`,
              ),
            );
          }, timeoutMs);
          // Source address/port are informational for direct-tcpip; sshd only logs them.
          client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
            clearTimeout(timer);
            if (late) return void stream?.destroy();
            if (!err) return resolve(stream);
            reject(forwardError(target.name, via, `${host}:${port}`, err));
          });
        });
      };
    }
    const conn = this.connection(resolved.target, key, false, tunnel);
    return { conn, sudo: this.settings.sudo && resolved.target.user !== 'root' };
  }

  private connection(
    ep: ResolvedEndpoint,
    key: string,
    isJump: boolean,
    tunnel?: ConnectionOptions['tunnel'],
  ): Connection {
    const existing = this.connections.get(key);
    if (existing) return existing.conn;
    const agent = this.settings.useAgent ? (this.opts.agentSocket ?? process.env.SSH_AUTH_SOCK) : undefined;
    const options: ConnectionOptions = {
      knownHostsFile: this.settings.knownHostsFile ?? join(this.home, '.ssh', 'known_hosts'),
      hostKeyPolicy: this.settings.hostKeyPolicy,
      connectTimeoutMs: this.settings.connectTimeoutSeconds * 1000,
      keepaliveIntervalMs: this.opts.keepaliveIntervalMs ?? 15_000,
      maxChannels: this.opts.maxChannelsPerConnection ?? 8,
      connectLimiter: this.connectLimiter,
      auth: () =>
        authMethods(
          ep.label,
          {
            user: ep.user,
            identityFiles: ep.identityFiles,
            explicit: ep.explicitIdentity,
            ...(agent ? { agent } : {}),
          },
          this.keys,
          this.home,
        ),
      ...(tunnel ? { tunnel } : {}),
    };
    const conn = new Connection(ep, options);
    this.connections.set(key, { conn, isJump });
    return conn;
  }

  private sshConfig(): Promise<SshConfigBlock[]> {
    this.config ??= loadSshConfig(this.settings.configFile ?? join(this.home, '.ssh', 'config'));
    return this.config;
  }
}

function endpointKey(ep: ResolvedEndpoint): string {
  return `${ep.user}@${ep.host}:${ep.port}`;
}

/** RFC 4254 §5.1 open-failure reason codes, as OpenSSH uses them for direct-tcpip. */
const openFailure: Record<number, string> = {
  1: 'administratively prohibited (AllowTcpForwarding or PermitOpen on the bastion)',
  2: 'connect failed (nothing listens there, or it is unreachable from the bastion)',
  3: 'unknown channel type',
  4: 'resource shortage',
};

/**
 * Say which hop failed. A bastion that forbids forwarding will not change its mind on retry: that one is not
 * retryable. Anything else (the target is down, or not reachable yet) is.
 */
export function forwardError(name: string, via: string, to: string, err: Error & { reason?: unknown }): KubeadmHaError {
  const reason = typeof err.reason === 'number' ? openFailure[err.reason] : undefined;
  const message = `bastion ${via} could not open a connection to ${to}: ${reason ?? err.message}`;
  if (err.reason === 1) return new KubeadmHaError(message, FailureType.HostNotSuitable, name);
  return new HostUnreachableError(name, message);
}
