// Requests to a Service from outside the cluster's pods, all through an operation that may disturb it (an upgrade):
// one GET at a time, each on a new TCP connection (so every request is balanced afresh by kube-proxy instead of
// riding a kept-alive connection to one pod), one every `everyMs`. The report says how long the Service went without
// a successful answer: every gap between two successful answers, in ms. The pacing timer sets the request rate; it
// synchronises nothing.
import { request } from 'node:http';

export interface ServicePollReport {
  requests: number;
  ok: number;
  failed: number;
  /** First failure messages (up to 10), e.g. ECONNREFUSED, timeouts. */
  errors: string[];
  /** Gaps between consecutive successful answers longer than `reportOverMs`, with when they started. */
  gaps: { at: string; ms: number }[];
  /** The longest time without a successful answer (ms), including from the start and to the end. */
  maxGapMs: number;
  /** Which pods answered, and how often (from the hello server's "hello from <pod> <ip>"). */
  answeredBy: Record<string, number>;
  ms: number;
}

export interface ServicePoller {
  /** Resolves after the first successful answer. */
  ready: Promise<void>;
  stop: () => Promise<ServicePollReport>;
}

function get(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export function pollService(o: {
  host: string;
  port: number;
  everyMs?: number;
  timeoutMs?: number;
  reportOverMs?: number;
}): ServicePoller {
  const everyMs = o.everyMs ?? 100;
  const reportOver = o.reportOverMs ?? 1000;
  const started = Date.now();
  const r: ServicePollReport = {
    requests: 0,
    ok: 0,
    failed: 0,
    errors: [],
    gaps: [],
    maxGapMs: 0,
    answeredBy: {},
    ms: 0,
  };
  let lastOk = started;
  let stopped = false;
  let firstOk: () => void = () => undefined;
  const ready = new Promise<void>((res) => (firstOk = res));
  const gapUntil = (t: number): void => {
    const ms = t - lastOk;
    r.maxGapMs = Math.max(r.maxGapMs, ms);
    if (ms > reportOver && r.ok > 0) r.gaps.push({ at: new Date(lastOk).toISOString(), ms });
  };
  const loop = (async () => {
    while (!stopped) {
      const t0 = Date.now();
      r.requests++;
      try {
        const body = await get(o.host, o.port, o.timeoutMs ?? 2000);
        const now = Date.now();
        // The wait for the first answer is not a gap of the Service.
        if (r.ok > 0) gapUntil(now);
        else firstOk();
        lastOk = now;
        r.ok++;
        const pod = /^hello from (\S+)/.exec(body)?.[1] ?? '?';
        r.answeredBy[pod] = (r.answeredBy[pod] ?? 0) + 1;
      } catch (err) {
        r.failed++;
        if (r.errors.length < 10) r.errors.push(`${new Date().toISOString()} ${(err as Error).message}`);
      }
      const wait = everyMs - (Date.now() - t0);
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    }
  })();
  return {
    ready,
    stop: async () => {
      stopped = true;
      await loop;
      gapUntil(Date.now());
      r.ms = Date.now() - started;
      return r;
    },
  };
}
