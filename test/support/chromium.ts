// Debian's chromium, headless, one page load per call: what a browser really does with our Web UI (cookies,
// SameSite, same-origin fetch, blocked ports), not what we think it does. Each call runs in its own process group,
// killed when the call ends, so no renderer or zygote outlives the test.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';

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

/** A headless chromium driven over the DevTools protocol: one page, read while it runs. */
export interface LiveBrowser {
  /** Opens `url` in the page (does not wait for it to settle: a running workflow's page never does). */
  navigate(url: string): Promise<void>;
  /** The page's visible text, followed by that of every same-origin iframe (the Temporal UI renders Markdown in
   * iframes), and the page's address. */
  read(): Promise<{ href: string; text: string }>;
  /** Runs `expression` in the page and returns its value (e.g. a click). */
  evaluate(expression: string): Promise<unknown>;
  /** Writes a PNG of the page as it is now. */
  screenshot(path: string): Promise<void>;
  /** Kills chromium's process group; safe to call twice. */
  close(): void;
}

/** Runs in the page: the top document's text, then each same-origin iframe's, each marked with its address.
 * (A string: this project's TypeScript has no DOM types; String.raw keeps the \n for the page's parser.) */
const READ_PAGE = String.raw`(() => {
  const parts = [document.body ? document.body.innerText : ''];
  for (const f of document.querySelectorAll('iframe')) {
    try {
      const body = f.contentDocument && f.contentDocument.body;
      if (body) parts.push('[iframe ' + f.getAttribute('src') + ']', body.innerText);
    } catch (e) { /* cross-origin: not ours to read */ }
  }
  return JSON.stringify({ href: location.href, text: parts.join('\n') });
})()`;

/**
 * Starts a headless chromium with a profile directory, driven over the DevTools protocol on a pipe
 * (--remote-debugging-pipe: no port for anyone else to reach), in real time: unlike loadPage's virtual time, a page
 * with a long poll open (a running workflow's history) renders as it would for a person. One process group.
 */
export async function openBrowser(opts: { profile: string; width?: number; height?: number }): Promise<LiveBrowser> {
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--no-default-browser-check',
    `--user-data-dir=${opts.profile}`,
    `--window-size=${opts.width ?? 1400},${opts.height ?? 1200}`,
    '--remote-debugging-pipe',
    'about:blank',
  ];
  // fd 3: what chromium reads (our requests), fd 4: what it writes (replies, events); NUL-terminated JSON each.
  const child = spawn(CHROMIUM, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const toBrowser = child.stdio[3] as NodeJS.WritableStream;
  const fromBrowser = child.stdio[4] as NodeJS.ReadableStream;
  child.stderr!.resume();
  const replies = new Map<number, (msg: { result?: unknown; error?: { message: string } }) => void>();
  let buffered = '';
  fromBrowser.on('data', (c: Buffer) => {
    buffered += c.toString('utf8');
    let end: number;
    while ((end = buffered.indexOf('\0')) >= 0) {
      const msg = JSON.parse(buffered.slice(0, end)) as { id?: number; result?: unknown; error?: { message: string } };
      buffered = buffered.slice(end + 1);
      if (msg.id !== undefined) replies.get(msg.id)?.(msg);
    }
  });
  toBrowser.on('error', () => undefined); // chromium gone: the pending request times out below
  let nextId = 1;
  const send = <T>(method: string, params: object = {}, sessionId?: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      // Generous: two cores shared by many test processes.
      const timer = setTimeout(() => {
        replies.delete(id);
        reject(new Error(`chromium: no reply to ${method} in 60 s`));
      }, 60_000);
      replies.set(id, (msg) => {
        clearTimeout(timer);
        replies.delete(id);
        if (msg.error) reject(new Error(`chromium: ${method}: ${msg.error.message}`));
        else resolve(msg.result as T);
      });
      toBrowser.write(`${JSON.stringify({ id, method, params, ...(sessionId && { sessionId }) })}\0`);
    });
  try {
    const { targetInfos } = await send<{ targetInfos: { targetId: string; type: string }[] }>('Target.getTargets');
    const page = targetInfos.find((t) => t.type === 'page');
    if (!page) throw new Error('chromium: no page target');
    const { sessionId } = await send<{ sessionId: string }>('Target.attachToTarget', {
      targetId: page.targetId,
      flatten: true,
    });
    const evaluate = async (expression: string): Promise<unknown> => {
      const r = await send<{
        result: { value?: unknown };
        exceptionDetails?: { text: string; exception?: { description?: string } };
      }>('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId);
      const e = r.exceptionDetails;
      if (e) throw new Error(`chromium: in the page: ${e.exception?.description ?? e.text}`);
      return r.result.value;
    };
    return {
      navigate: async (url) => void (await send('Page.navigate', { url }, sessionId)),
      read: async () => JSON.parse((await evaluate(READ_PAGE)) as string) as { href: string; text: string },
      evaluate,
      screenshot: async (path) => {
        const { data } = await send<{ data: string }>('Page.captureScreenshot', { format: 'png' }, sessionId);
        await writeFile(path, Buffer.from(data, 'base64'));
      },
      close,
    };
  } catch (err) {
    close();
    throw err;
  }
}
