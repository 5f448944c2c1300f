// Where a --cpu-prof profile's time went within the preflight windows bench/preflight-cpu.ts wrote (CPU_PROF=dir):
// self time per function, per package or inclusive, per preflight, for the main thread (`.0.001.` profiles) or the
// others (the workflow thread: pass `thread=workflow`). Samples count time a thread was not idle, which on a loaded
// machine includes time it waited for a core: read the shares, not the milliseconds.
//
//   npx tsx bench/cpu-profile.ts dir [mode=fn|pkg|incl] [thread=main|workflow] [n=40]
import { readdirSync, readFileSync } from 'node:fs';

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface Profile {
  nodes: { id: number; callFrame: Frame; children?: number[] }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [dir = '.', ...rest] = process.argv.slice(2);
const opt = Object.fromEntries(rest.map((a) => a.split('=') as [string, string]));
const mode = opt.mode ?? 'fn';
const threadRe = opt.thread === 'workflow' ? /\.[1-9]\d*\.\d+\.cpuprofile$/ : /\.0\.001\.cpuprofile$/;
const windows = readdirSync(dir)
  .filter((f) => f.startsWith('windows-'))
  .flatMap((f) => JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as { from: number; to: number }[]);
const inWindow = (t: number) => windows.some((w) => t >= w.from && t <= w.to);
const short = (url: string) =>
  url.replace(/^.*node_modules\//, 'nm:').replace(/^file:\/\/.*?\/(src|bench|lab)\//, '$1/');
const key = (f: Frame): string => {
  const u = short(f.url);
  if (mode !== 'pkg') return `${f.functionName || '(anon)'} ${u}:${f.lineNumber}`;
  if (u.startsWith('nm:'))
    return u
      .split('/')
      .slice(0, u.startsWith('nm:@') ? 2 : 1)
      .join('/');
  return u.split('/').slice(0, 2).join('/') || f.functionName || '(native)';
};

const total = new Map<string, number>();
let busy = 0;
for (const file of readdirSync(dir).filter((f) => threadRe.test(f))) {
  const p = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  let t = p.startTime;
  p.samples.forEach((id, i) => {
    const d = p.timeDeltas[i] ?? 0;
    t += d;
    if (!inWindow(t) || byId.get(id)!.callFrame.functionName === '(idle)') return;
    busy += d;
    const keys = new Set<string>();
    for (let c: number | undefined = id; c !== undefined; c = mode === 'incl' ? parent.get(c) : undefined)
      keys.add(key(byId.get(c)!.callFrame));
    for (const k of keys) total.set(k, (total.get(k) ?? 0) + d);
  });
}
const per = (us: number) => (us / 1000 / Math.max(1, windows.length)).toFixed(1).padStart(8);
console.log(`${windows.length} preflights, busy ${per(busy)} ms each (profile time)`);
for (const [k, us] of [...total].sort((a, b) => b[1] - a[1]).slice(0, Number(opt.n ?? 40)))
  console.log(`${per(us)}  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${k}`);
