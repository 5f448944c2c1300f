// Debian's chromium, headless, one page load per call: what a browser really does with our Web UI (cookies,
// SameSite, same-origin fetch, blocked ports), not what we think it does. Each call runs in its own process group,
// killed when the call ends, so no renderer or zygote outlives the test.
import { spawn } from 'node:child_process';

export const CHROMIUM = process.env.KUBEADM2HA_CHROMIUM ?? '/usr/bin/chromium';

export interface PageLoad {
  /** The DOM after the page settled (--dump-dom), empty with `screenshot`. */
  dom: string;
  stderr: string;
  ms: number;
}

/**
 * Loads `url` in a profile directory (cookies persist between calls with the same profile) and returns the DOM once
 * the page's network and timers are idle or `budgetMs` of virtual time passed. With `screenshot`, writes a PNG
 * instead of dumping the DOM.
 */
export function loadPage(
  url: string,
  opts: { profile: string; budgetMs?: number; screenshot?: string },
): Promise<PageLoad> {
  const args = [
    '--headless',
    '--no-sandbox', // we run as root in the test VM; chromium refuses to start there with its sandbox
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--no-default-browser-check',
    `--user-data-dir=${opts.profile}`,
    `--virtual-time-budget=${opts.budgetMs ?? 20_000}`,
    ...(opts.screenshot ? [`--screenshot=${opts.screenshot}`, '--window-size=1400,1200'] : ['--dump-dom']),
    url,
  ];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(CHROMIUM, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const killAll = (): void => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(killAll, (opts.budgetMs ?? 20_000) + 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', () => {
      clearTimeout(timer);
      killAll(); // helpers that outlived the browser process
      resolve({
        dom: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Date.now() - started,
      });
    });
  });
}
