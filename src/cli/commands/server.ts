// `kubeadm2ha server start|stop|status`: the local Temporal dev server that is kubeadm2ha's default backend.
// Other commands call ensureLocalServer() so a first-time user never has to start it by hand.
import type { Command } from 'commander';
import { FailureType, InvalidInputError, KubeadmHaError } from '../../errors.js';
import { loadUiSecret, loginLink } from '../../codec/ui-session.js';
import { secureLocalState } from '../../private-files.js';
import { TemporalCliError } from '../../temporal/cli-binary.js';
import { resolveTemporalOptions, type TemporalFlags } from '../../temporal/connection.js';
import {
  DEFAULT_PORT,
  DEFAULT_UI_PORT,
  devServerStatus,
  PortTakenError,
  startDevServer,
  UiCodecConflictError,
  stopDevServer,
  type DevServerOptions,
} from '../../temporal/dev-server.js';

interface ServerFlags {
  port: number;
  /** Not given: 8233 while it is free, else a free one (startDevServer). */
  uiPort?: number;
  headless?: boolean;
  dbFile?: string;
  uiCodecEndpoint?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const server = program.command('server').description('run the local Temporal dev server (the default backend)');

  withServerOptions(server.command('start').description('start the dev server (no-op if it already runs)'))
    .option('--headless', 'no Web UI')
    .option('--ui-codec-endpoint <url>', 'codec server the Web UI uses to decode payloads')
    .action(async (flags: ServerFlags) => {
      const info = await start(toDevServerOptions(flags));
      if (flags.json) return printJson(info);
      console.log(
        info.reused
          ? `Temporal dev server already running at ${info.address}${info.pid ? ` (pid ${info.pid})` : ''}`
          : `Temporal dev server started at ${info.address} (pid ${info.pid}, healthy in ${info.startMs} ms)`,
      );
      if (info.uiUrl) console.log(`Web UI: ${await uiLoginLink(info.uiUrl)}  (one-time login link; decodes payloads)`);
      console.log(`Database: ${info.dbFile}`);
      if (info.addedSearchAttributes.length)
        console.log(`Added search attributes: ${info.addedSearchAttributes.join(', ')}`);
    });

  withServerOptions(server.command('stop').description('stop the dev server gracefully (SIGTERM)')).action(
    async (flags: ServerFlags) => {
      const res = await stopDevServer(toDevServerOptions(flags));
      if (flags.json) return printJson(res);
      if (!res.stopped) console.log(`Nothing stopped: ${res.reason}`);
      else console.log(`Stopped pid ${res.pid} in ${res.elapsedMs} ms${res.forced ? ' (had to SIGKILL)' : ''}`);
    },
  );

  withServerOptions(server.command('status').description('show pid, address, Web UI and health')).action(
    async (flags: ServerFlags) => {
      const st = await devServerStatus(toDevServerOptions(flags));
      // Exit 3 (cannot reach Temporal) so scripts can test `kubeadm2ha server status`.
      if (!st.healthy) process.exitCode = 3;
      if (flags.json) return printJson(st);
      console.log(`Address:  ${st.address} (${st.healthy ? `healthy, server ${st.serverVersion}` : 'not answering'})`);
      console.log(`Pid:      ${st.pid === undefined ? '-' : `${st.pid}${st.running ? '' : ' (not running)'}`}`);
      console.log(
        `Web UI:   ${st.uiUrl ?? '-'}${st.uiFront ? ` (front pid ${st.uiFront.pid}${st.uiFront.running ? '' : ', not running'})` : ''}`,
      );
      console.log(`Codec:    ${st.uiCodecEndpoint ?? '-'}`);
      console.log(`Database: ${st.dbFile}`);
      console.log(`Log:      ${st.logFile}`);
    },
  );

  withServerOptions(
    server
      .command('ui-link')
      .description('print a one-time login link to the local Web UI (it lets this browser decode payloads)')
      .argument('[path]', 'page to open after logging in, e.g. /namespaces/default/workflows', '/'),
  ).action(async (path: string, flags: ServerFlags) => {
    const st = await devServerStatus(toDevServerOptions(flags));
    if (!st.running || !st.uiUrl) {
      throw new KubeadmHaError(
        `no local Web UI runs for port ${flags.port}: kubeadm2ha server start`,
        FailureType.HostUnreachable,
      );
    }
    const link = await uiLoginLink(st.uiUrl, path);
    if (flags.json) return printJson({ link });
    console.log(link);
  });
}

/** A login link to a page of the local Web UI (see codec/ui-session.ts). */
export async function uiLoginLink(uiUrl: string, path = '/'): Promise<string> {
  return loginLink(uiUrl, await loadUiSecret(), path);
}

/**
 * For other commands: the address to talk to. When the user named no server (no --address, no TEMPORAL_ADDRESS),
 * make sure the local dev server runs (starting it if needed) and return its address.
 */
export async function ensureLocalServer(flags: TemporalFlags = {}, opts: DevServerOptions = {}): Promise<string> {
  const resolved = resolveTemporalOptions(flags);
  if (resolved.addressIsExplicit) return resolved.address;
  const info = await start(opts);
  if (!info.reused) {
    process.stderr.write(
      `kubeadm2ha: started the local Temporal dev server at ${info.address}` +
        `${info.uiUrl ? `; Web UI ${info.uiUrl} (log in: kubeadm2ha server ui-link)` : ''}\n`,
    );
  }
  return info.address;
}

function withServerOptions(cmd: Command): Command {
  return cmd
    .option('--port <port>', 'frontend gRPC port', parsePort, DEFAULT_PORT)
    .option(
      '--ui-port <port>',
      `Web UI port (default ${DEFAULT_UI_PORT}, or a free one while that is taken)`,
      parsePort,
    )
    .option('--db-file <path>', 'SQLite file (default: in the state directory, per CLI version)')
    .option('--json', 'machine-readable output');
}

function toDevServerOptions(f: ServerFlags): DevServerOptions {
  return {
    port: f.port,
    ...(f.uiPort !== undefined && { uiPort: f.uiPort }),
    ...(f.headless ? { headless: true } : {}),
    ...(f.dbFile ? { dbFile: f.dbFile } : {}),
    ...(f.uiCodecEndpoint ? { uiCodecEndpoint: checkUrl(f.uiCodecEndpoint) } : {}),
  };
}

// Maps failures to the CLI's exit codes: a missing Go toolchain is an environment problem (1), a server that
// never answers is "cannot reach Temporal" (3).
async function start(opts: DevServerOptions) {
  await secureLocalState();
  try {
    return await startDevServer(opts);
  } catch (err) {
    if (err instanceof TemporalCliError || err instanceof PortTakenError) {
      throw new KubeadmHaError(err.message, FailureType.HostNotSuitable);
    }
    if (err instanceof UiCodecConflictError) throw new InvalidInputError(err.message);
    throw new KubeadmHaError((err as Error).message, FailureType.HostUnreachable);
  }
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidInputError(`invalid port: ${v}`);
  return n;
}

function checkUrl(v: string): string {
  try {
    return new URL(v).toString().replace(/\/+$/, '');
  } catch {
    throw new InvalidInputError(`--ui-codec-endpoint: not a URL: ${v}`);
  }
}

function printJson(v: unknown): void {
  console.log(JSON.stringify(v, null, 2));
}
