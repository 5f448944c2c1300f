// One ssh2 Client to one endpoint, opened lazily and reopened after it drops. Owns: host-key verification at
// handshake, error classification, TCP_NODELAY, keepalive, and the cap on concurrent channels.
import ssh2 from 'ssh2';
import type { AnyAuthMethod, Client, ClientChannel, ConnectConfig } from 'ssh2';
import type { Duplex } from 'node:stream';
import {
  AuthFailedError,
  HostKeyMismatchError,
  HostKeyUnknownError,
  HostUnreachableError,
  KubeadmHaError,
} from '../errors.js';
import {
  appendKnownHost,
  checkHostKey,
  describeExpected,
  describeKey,
  formatKnownHost,
  knownHostName,
  loadKnownHosts,
  preferredAlgorithms,
} from './known-hosts.js';
import { Limiter } from './limiter.js';

export interface Endpoint {
  /** Name used in error messages (the inventory host name). */
  label: string;
  host: string;
  port: number;
  user: string;
  /** Extra names to look the host key up under (e.g. the inventory name when the address is an IP). */
  aliases?: string[];
}

export interface ConnectionOptions {
  knownHostsFile: string;
  hostKeyPolicy: 'strict' | 'accept-new';
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  maxChannels: number;
  /** Shared across the pool: handshakes in flight. */
  connectLimiter: Limiter;
  auth: () => Promise<AnyAuthMethod[]>;
  /** For ProxyJump: opens the stream to tunnel through (the jump host's `forwardOut`). */
  tunnel?: () => Promise<Duplex>;
}

/** Thrown when a channel could not be opened because the connection is gone: the command never started. */
export class ConnectionLostError extends Error {}

export class Connection {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private readonly channels: Limiter;
  /** Completed handshakes, for tests and metrics (one per connect or reconnect). */
  connects = 0;
  lastConnectMs = 0;

  constructor(
    readonly endpoint: Endpoint,
    private readonly opts: ConnectionOptions,
  ) {
    this.channels = new Limiter(opts.maxChannels);
  }

  get key(): string {
    return `${this.endpoint.user}@${this.endpoint.host}:${this.endpoint.port}`;
  }

  /** Connected client, connecting first if needed; concurrent callers share one handshake. */
  async get(): Promise<Client> {
    if (this.client) return this.client;
    this.connecting ??= this.opts.connectLimiter.run(() => this.connect()).finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** Forget `client` (if still current) and close it: the next get() reconnects. */
  discard(client: Client): void {
    if (this.client === client) this.client = undefined;
    client.end();
    client.destroy();
  }

  close(): void {
    if (this.client) this.discard(this.client);
  }

  /**
   * Open an exec channel, waiting for a free channel slot. If the connection turns out to be dead before the
   * channel opened, reconnect once: nothing ran remotely, so retrying is safe.
   */
  async exec(
    command: string,
  ): Promise<{ channel: ClientChannel; client: Client; release: () => void; sentAt: number }> {
    const release = await this.channels.acquire();
    try {
      for (let attempt = 0; ; attempt++) {
        const client = await this.get();
        try {
          // When the exec request left: the remote command cannot have started earlier, so a duration measured
          // from here is never shorter than the command's own (what the host-side timeout counts).
          const sentAt = performance.now();
          return { channel: await this.openChannel(client, command), client, release, sentAt };
        } catch (err) {
          if (!(err instanceof ConnectionLostError)) throw err;
          this.discard(client);
          if (attempt >= 1) throw new HostUnreachableError(this.endpoint.label, `connection lost: ${err.message}`);
        }
      }
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Whether `client` is still this connection's live client (used to tell a dropped connection from an exit). */
  isLive(client: Client): boolean {
    return this.client === client;
  }

  private openChannel(client: Client, command: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      // A half-dead TCP connection never answers the channel open; bound the wait like a connect.
      const timer = setTimeout(() => {
        reject(new ConnectionLostError(`no answer to channel open within ${this.opts.connectTimeoutMs} ms`));
      }, this.opts.connectTimeoutMs);
      try {
        client.exec(command, (err, channel) => {
          clearTimeout(timer);
          if (!err) return resolve(channel);
          // "No response from server" is ssh2's message for channels pending when the socket closed.
          if (!this.isLive(client) || /No response from server|Not connected/.test(err.message)) {
            reject(new ConnectionLostError(err.message));
          } else {
            reject(new HostUnreachableError(this.endpoint.label, `cannot open a session channel: ${err.message}`));
          }
        });
      } catch (err) {
        clearTimeout(timer); // ssh2 throws "Not connected" synchronously when the socket is gone
        reject(new ConnectionLostError(err instanceof Error ? err.message : String(err)));
      }
    });
  }

  private async connect(): Promise<Client> {
    const { label, host, port, user } = this.endpoint;
    const names = [knownHostName(host, port), ...(this.endpoint.aliases ?? []).map((a) => knownHostName(a, port))];
    const known = await loadKnownHosts(this.opts.knownHostsFile);
    const auth = await this.opts.auth();
    let sock: Duplex | undefined;
    try {
      sock = this.opts.tunnel ? await this.opts.tunnel() : undefined;
    } catch (err) {
      throw classify(label, err as Error);
    }
    let refusal: KubeadmHaError | undefined;
    let newKey: Buffer | undefined;

    const file = this.opts.knownHostsFile;
    const hostVerifier = (key: Buffer): boolean => {
      const verdict = checkHostKey(known, names, key);
      switch (verdict.kind) {
        case 'known':
          return true;
        case 'revoked':
          refusal = new HostKeyMismatchError(
            label,
            `this key marked @revoked (${file}:${verdict.line})`,
            describeKey(key),
          );
          return false;
        case 'changed':
          // Refused whatever the policy: accept-new is for hosts never seen, never for a key that changed.
          refusal = new HostKeyMismatchError(label, describeExpected(file, verdict.expected), describeKey(key));
          return false;
        case 'unknown':
          if (this.opts.hostKeyPolicy === 'accept-new') {
            newKey = key;
            return true;
          }
          refusal = new HostKeyUnknownError(label, describeKey(key), file);
          return false;
      }
    };

    const preferred = preferredAlgorithms(known, names);
    const config: ConnectConfig = {
      host,
      port,
      username: user,
      readyTimeout: this.opts.connectTimeoutMs,
      keepaliveInterval: this.opts.keepaliveIntervalMs,
      keepaliveCountMax: 3,
      hostVerifier,
      authHandler: auth,
      ...(sock ? { sock } : {}),
      // Ask for the key types we know first, so the host shows a key we can check rather than a new type.
      ...(preferred.length
        ? { algorithms: { serverHostKey: { prepend: preferred, append: [], remove: [] } as never } }
        : {}),
    };

    const started = performance.now();
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error & { level?: string; code?: string }): void => {
        client.destroy();
        reject(refusal ?? classify(label, err));
      };
      // `on`, not `once`: after a handshake timeout the destroyed socket emits a second error ("Connection lost
      // before handshake"), which, with no listener left, crashed the whole worker.
      client.on('error', onError);
      client.once('ready', () => {
        client.off('error', onError);
        resolve();
      });
      // Closed before ready without an error event (e.g. the tunnel stream ended).
      client.once('close', () =>
        reject(refusal ?? new HostUnreachableError(label, 'connection closed during handshake')),
      );
      client.connect(config);
    });
    this.lastConnectMs = performance.now() - started;
    this.connects++;

    // Nagle + delayed ACK cost ~40 ms per small request/response; measured 44 ms → 2.8 ms per exec (LAB.md §5).
    client.setNoDelay(true);
    // After ready, errors (keepalive timeout, socket reset) just mean "dropped": forget the client so the next
    // command reconnects. Running channels see their own close.
    client.on('error', () => this.discard(client));
    client.on('close', () => {
      if (this.client === client) this.client = undefined;
    });
    this.client = client;

    if (newKey) {
      // Recorded only after the handshake proved the host holds the key and auth worked (ssh2 checks the
      // signature before calling hostVerifier). Re-read first: another connection may have recorded it.
      const verdict = checkHostKey(await loadKnownHosts(this.opts.knownHostsFile), names, newKey);
      if (verdict.kind === 'unknown')
        await appendKnownHost(this.opts.knownHostsFile, formatKnownHost(host, port, newKey));
    }
    return client;
  }
}

/** Map ssh2/socket failures to our error classes. Network trouble is retryable; credentials are not. */
export function classify(label: string, err: Error & { level?: string; code?: string }): KubeadmHaError {
  if (err instanceof KubeadmHaError) return err;
  if (err.level === 'client-authentication') {
    return new AuthFailedError(label, `${err.message} (the host accepted none of the offered keys)`);
  }
  if (err.level === 'agent') return new AuthFailedError(label, `ssh-agent: ${err.message}`);
  const detail = err.code ? `${err.code} ${err.message}` : err.message;
  // client-socket (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ECONNRESET), client-timeout (handshake or
  // keepalive timeout), client-dns and protocol errors: all "could not talk to the host", worth retrying.
  return new HostUnreachableError(label, detail);
}
