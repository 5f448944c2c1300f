// The Web UI front (ui-front.ts) as a process beside the dev server: spawned detached (it outlives the command that
// started it, like the server), recorded in the server's pid file, stopped with it. It runs ui-front-main.ts, with
// this process's environment, so it finds the keyring and Web UI secret the way every command does.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { PRIVATE_FILE_MODE, withPrivateUmask } from '../private-files.js';
import { isOurProcess, killGroup, pidAlive, pollUntil } from './process-util.js';
import { BROWSER_BLOCKED_PORTS, HEALTH_PATH } from './ui-front.js';

// Beside this module: ui-front-main.ts when we run from source (through tsx), ui-front-main.js when built.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const MAIN = fileURLToPath(new URL(`./ui-front-main.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url));

export interface UiFrontProcessOptions {
  port: number;
  innerPort: number;
  externalCodecEndpoint?: string;
  logFile: string;
  timeoutMs?: number;
}

/** A port for the real Temporal UI that browsers will not connect to, free right now. */
export async function pickInnerUiPort(): Promise<number> {
  for (const port of BROWSER_BLOCKED_PORTS) if (await canBind(port)) return port;
  throw new Error(
    `none of the browser-blocked ports (${BROWSER_BLOCKED_PORTS.join(', ')}) is free on 127.0.0.1 for the Temporal UI`,
  );
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Starts the front and returns its pid once it answers on its port. */
export async function spawnUiFront(o: UiFrontProcessOptions): Promise<number> {
  const args = [
    ...(FROM_SOURCE ? ['--import', import.meta.resolve('tsx')] : []),
    MAIN,
    'ui-front',
    '--port',
    String(o.port),
    '--inner-port',
    String(o.innerPort),
    ...(o.externalCodecEndpoint ? ['--codec-endpoint', o.externalCodecEndpoint] : []),
  ];
  const logFd = openSync(o.logFile, 'a', PRIVATE_FILE_MODE);
  let exited: string | undefined;
  let pid: number;
  try {
    const child = withPrivateUmask(() =>
      spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd] }),
    );
    child.on('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
    child.on('error', (err) => (exited = err.message));
    if (child.pid === undefined) throw new Error(`could not start the Web UI front: ${process.execPath} ${MAIN}`);
    pid = child.pid;
    child.unref();
  } finally {
    closeSync(logFd);
  }
  try {
    await pollUntil(
      async () => {
        if (exited !== undefined) throw new Error(`the Web UI front ${exited} (log ${o.logFile})`);
        return answers(o.port);
      },
      { timeoutMs: o.timeoutMs ?? 30_000, intervalMs: 100, what: `the Web UI front on 127.0.0.1:${o.port}` },
    );
  } catch (err) {
    killGroup(pid, 'SIGKILL');
    throw err;
  }
  return pid;
}

async function answers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${HEALTH_PATH}`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** Ours, and the front for that port. */
export function isOurUiFront(pid: number, port: number): boolean {
  return isOurProcess(pid, 'ui-front', port);
}

/** SIGTERM (or the given signal) to the front's process group, then wait for it to go. */
export async function stopUiFront(pid: number, port: number, timeoutMs = 10_000): Promise<void> {
  if (!isOurUiFront(pid, port)) return;
  killGroup(pid, 'SIGTERM');
  try {
    await pollUntil(() => !pidAlive(pid), { timeoutMs, intervalMs: 50, what: `Web UI front pid ${pid} to exit` });
  } catch {
    killGroup(pid, 'SIGKILL');
    await pollUntil(() => !pidAlive(pid), { timeoutMs: 5000, intervalMs: 50, what: `pid ${pid} after SIGKILL` });
  }
}
