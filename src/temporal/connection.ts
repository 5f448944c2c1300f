// One place that turns CLI flags + environment into Temporal connection settings, so every command, the worker and
// the tests reach the same server the same way. Precedence: flag > environment > default.
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { Client, Connection, type ConnectionOptions, type TLSConfig } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { Command } from 'commander';
import { InvalidInputError } from '../errors.js';
import { dataConverter } from './data-converter.js';
import { installRedactingLogger } from '../worker/runtime-logging.js';

export const DEFAULT_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_UI_URL = 'http://127.0.0.1:8233';

/** Flags as commander parses them (all optional). */
export interface TemporalFlags {
  address?: string;
  namespace?: string;
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsServerName?: string;
  apiKey?: string;
  uiUrl?: string;
}

export interface TemporalOptions {
  address: string;
  namespace: string;
  /** undefined = let the SDK decide (it turns TLS on by itself when an API key is set). */
  tls?: TLSConfig | boolean;
  apiKey?: string;
  uiUrl: string;
  /** True when the user chose a server (flag or TEMPORAL_ADDRESS): then we never start a local one. */
  addressIsExplicit: boolean;
  identity: string;
}

/** Registers the shared connection flags on a command. Env names follow the Temporal CLI where it has one. */
export function addTemporalOptions(cmd: Command): Command {
  return cmd
    .option('--address <host:port>', `Temporal frontend (env TEMPORAL_ADDRESS, default ${DEFAULT_ADDRESS})`)
    .option('--namespace <ns>', `Temporal namespace (env TEMPORAL_NAMESPACE, default ${DEFAULT_NAMESPACE})`)
    .option('--tls', 'connect with TLS (env TEMPORAL_TLS=1)')
    .option('--tls-cert <path>', 'client certificate for mTLS (env TEMPORAL_TLS_CERT)')
    .option('--tls-key <path>', 'client key for mTLS (env TEMPORAL_TLS_KEY)')
    .option('--tls-ca <path>', 'CA that signed the server certificate (env TEMPORAL_TLS_CA)')
    .option('--tls-server-name <name>', 'override the TLS server name (env TEMPORAL_TLS_SERVER_NAME)')
    .option('--api-key <key>', 'API key, sent as a bearer token (env TEMPORAL_API_KEY; prefer the env var)')
    .option('--ui-url <url>', `Temporal Web UI base URL for links (env KUBEADM2HA_UI_URL, default ${DEFAULT_UI_URL})`);
}

/** Who we are in workflow history (starts, signals, approvals): `user@host`. */
export function clientIdentity(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers).
    user = process.env.USER ?? `uid${process.getuid?.() ?? '?'}`;
  }
  return `${user}@${hostname()}`;
}

export function resolveTemporalOptions(
  flags: TemporalFlags = {},
  env: NodeJS.ProcessEnv = process.env,
): TemporalOptions {
  const explicitAddress = flags.address ?? env.TEMPORAL_ADDRESS;
  const cert = flags.tlsCert ?? env.TEMPORAL_TLS_CERT;
  const key = flags.tlsKey ?? env.TEMPORAL_TLS_KEY;
  const ca = flags.tlsCa ?? env.TEMPORAL_TLS_CA;
  const serverName = flags.tlsServerName ?? env.TEMPORAL_TLS_SERVER_NAME;
  const tlsOn = flags.tls ?? isTrue(env.TEMPORAL_TLS);
  if ((cert === undefined) !== (key === undefined)) {
    throw new InvalidInputError('--tls-cert and --tls-key go together (mTLS needs both)');
  }
  let tls: TLSConfig | boolean | undefined;
  if (cert || ca || serverName) {
    tls = {
      ...(cert && key ? { clientCertPair: { crt: readPem(cert, '--tls-cert'), key: readPem(key, '--tls-key') } } : {}),
      ...(ca ? { serverRootCACertificate: readPem(ca, '--tls-ca') } : {}),
      ...(serverName ? { serverNameOverride: serverName } : {}),
    };
  } else if (tlsOn) {
    tls = true;
  }
  return {
    address: explicitAddress ?? DEFAULT_ADDRESS,
    namespace: flags.namespace ?? env.TEMPORAL_NAMESPACE ?? DEFAULT_NAMESPACE,
    tls,
    apiKey: flags.apiKey ?? env.TEMPORAL_API_KEY ?? undefined,
    uiUrl: (flags.uiUrl ?? env.KUBEADM2HA_UI_URL ?? DEFAULT_UI_URL).replace(/\/+$/, ''),
    addressIsExplicit: explicitAddress !== undefined,
    identity: clientIdentity(),
  };
}

export function connectionOptions(o: TemporalOptions): ConnectionOptions {
  return {
    address: o.address,
    ...(o.tls !== undefined ? { tls: o.tls } : {}),
    ...(o.apiKey ? { apiKey: o.apiKey } : {}),
  };
}

export function nativeConnectionOptions(o: TemporalOptions): NativeConnectionOptions {
  return {
    address: o.address,
    ...(o.tls !== undefined ? { tls: o.tls } : {}),
    ...(o.apiKey ? { apiKey: o.apiKey } : {}),
  };
}

/** A connected Client for the namespace. Close it with `client.connection.close()`. */
export async function createClient(o: TemporalOptions): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(o));
  return new Client({ connection, namespace: o.namespace, identity: o.identity, dataConverter: dataConverter() });
}

/** The worker's connection (Rust core). Pair with `dataConverter()` in Worker.create. */
export function createNativeConnection(o: TemporalOptions): Promise<NativeConnection> {
  installRedactingLogger();
  return NativeConnection.connect(nativeConnectionOptions(o));
}

/**
 * Link to a workflow in the Web UI. Ids are encoded as one path segment: ours contain '/' (`cluster/op/host`),
 * which would otherwise be read as extra path segments.
 */
export function workflowUiLink(uiBase: string, namespace: string, workflowId: string, runId?: string): string {
  const base = `${uiBase.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}/history` : base;
}

function isTrue(v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  return ['1', 'true', 'yes', 'on'].includes(v.toLowerCase());
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new InvalidInputError(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
