// Host-side CPU of a host's preflight: what each probe script (src/activities/preflight-checks.ts) costs the host it
// runs on, and the whole per-host set as it is sent (the first probe alone, the rest as one batch shell from
// src/activities/preflight-batch.ts, the clock probe alone where it is not the first: src/plan/preflight.ts puts
// it first), each command line as buildCommand makes it (timeout, sh -c) under `bash -c` as sshd would start it
// for root. CPU, not wall time: user+system of the children, read
// with bash's `times` (getrusage RUSAGE_CHILDREN) after every run, so the load on this shared machine moves the
// figures far less than it moves wall times. Trimmed means over --runs rounds; probes interleave within a round.
//
// Where: a lab namespace host (h1, containerd 1.6 running there, as images-receive.test.ts starts it), and with
// --local this machine too (no lab network: vip-subnet reads eth0 that may not exist; it is still the script's cost).
//
// --before REF measures REF's probe scripts too, in the same rounds (interleaved: the load hits both alike), from
// its src/activities/preflight-checks.ts copied to a temporary file.
//
//   npx tsx bench/probe-cpu.ts [--runs 30] [--local] [--no-containerd] [--before main~3]
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { batchScript } from '../src/activities/preflight-batch.js';
import { probes } from '../src/activities/preflight-checks.js';
import { loadInventory } from '../src/inventory/index.js';
import { planPreflight } from '../src/plan/preflight.js';
import type { CheckSpec } from '../src/plan/types.js';
import { buildCommand } from '../src/ssh/exec.js';
import { quote } from '../src/ssh/quote.js';
import { createLab, type Lab } from '../lab/index.js';
import { startPlainContainerd } from '../test/support/plain-containerd.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : (process.argv[i + 1] ?? '');
};
const RUNS = Number(arg('--runs') ?? 30);
const LOCAL = process.argv.includes('--local');
const CONTAINERD = !process.argv.includes('--no-containerd');
const BEFORE = arg('--before');

type Probes = typeof probes;

/** The probes of git revision `ref`: its preflight-checks.ts, its imports pointed at this checkout's modules. */
async function probesAt(ref: string): Promise<Probes> {
  const src = fileURLToPath(new URL('../src/', import.meta.url));
  const { stdout } = await promisify(execFile)('git', ['show', `${ref}:src/activities/preflight-checks.ts`], {
    maxBuffer: 16 << 20,
  });
  const text = stdout.replace(/from '\.\.\/([^']+)\.js'/g, (_m, mod: string) => `from '${join(src, `${mod}.ts`)}'`);
  const dir = await mkdtemp(join(tmpdir(), 'probe-cpu-'));
  try {
    const file = join(dir, 'preflight-checks.ts');
    await writeFile(file, text);
    return ((await import(pathToFileURL(file).href)) as { probes: Probes }).probes;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface Item {
  name: string;
  /** A shell command line, run as `<shell> -c line`. */
  line: string;
  shell: 'sh' | 'bash';
}

/** The items a host's preflight costs: each probe alone under `sh -c`, and the three command lines sent per host. */
export function items(steps: readonly CheckSpec[], set: Probes = probes, label = ''): Item[] {
  const script = (s: CheckSpec) => set[s.id].script(s);
  const sent = (s: string) => buildCommand({ script: s }, { timeoutMs: 30_000 });
  const [first, ...rest] = steps;
  const clock = steps.find((s) => s.id === 'clock')!;
  const batched = rest.filter((s) => s.id !== 'clock');
  const list: Item[] = [
    { name: '(sh -c :)', line: ':', shell: 'sh' },
    ...steps.map((s): Item => ({ name: s.id, line: script(s), shell: 'sh' })),
    { name: '(empty exec: bash -c timeout sh -c :)', line: sent(':'), shell: 'bash' },
    { name: `sent: first (${first!.id})`, line: sent(script(first!)), shell: 'bash' },
    {
      name: `sent: batch (${batched.length})`,
      line: sent(batchScript(batched.map(script), '0123456789abcdef01')),
      shell: 'bash',
    },
    // The clock probe never joins a batch: alone, unless it is the first (planPreflight's clockFirst).
    ...(first!.id === 'clock' ? [] : [{ name: 'sent: clock', line: sent(script(clock)), shell: 'bash' } as const]),
  ];
  return label
    ? list.filter((it) => !it.name.startsWith('(')).map((it) => ({ ...it, name: `${label}${it.name}` }))
    : list;
}

/** A bash script that runs every item `runs` times (interleaved) and prints the children's CPU after each run. */
function measureScript(list: readonly Item[], runs: number): string {
  const body = list
    .map((it, i) => `${it.shell} -c ${quote(it.line)} >/dev/null 2>&1 </dev/null; echo "@@ ${i}"; times`)
    .join('\n');
  return `r=0; times; while [ $r -lt ${runs} ]; do r=$((r+1))\n${body}\ndone`;
}

const seconds = (t: string): number => {
  const m = /^(\d+)m([\d.]+)s$/.exec(t);
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
};

/** Per item, the CPU ms (user+system of children) of each run, from the output of measureScript. */
export function parseTimes(out: string, count: number): number[][] {
  const per: number[][] = Array.from({ length: count }, () => []);
  const lines = out.split('\n');
  let prev = NaN;
  let item = -1;
  for (let i = 0; i < lines.length; i++) {
    const at = /^@@ (\d+)$/.exec(lines[i]!);
    if (at) {
      item = Number(at[1]);
      continue;
    }
    // `times` prints the shell's own line, then its children's.
    const own = lines[i]!.split(' ');
    const kids = lines[i + 1]?.split(' ');
    if (own.length !== 2 || kids?.length !== 2 || !/^\d+m/.test(own[0]!)) continue;
    const cpu = (seconds(kids[0]!) + seconds(kids[1]!)) * 1000;
    if (item >= 0 && Number.isFinite(prev)) per[item]!.push(cpu - prev);
    prev = cpu;
    item = -1;
    i++;
  }
  return per;
}

/** The mean of the middle 80% of the runs: bash's `times` reads in whole ms, so a median would be whole ms too,
 * while the mean of many runs resolves less; the trim drops the runs a burst of load inflated (cache misses). */
const trimmedMean = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const cut = Math.floor(s.length / 10);
  const mid = s.slice(cut, s.length - cut);
  return mid.length ? mid.reduce((a, b) => a + b, 0) / mid.length : NaN;
};

export async function measure(
  exec: (cmd: string) => Promise<string>,
  list: readonly Item[],
  runs: number,
): Promise<{ name: string; ms: number }[]> {
  const out = await exec(`bash -c ${quote(measureScript(list, runs))}`);
  const per = parseTimes(out, list.length);
  return list.map((it, i) => ({ name: it.name, ms: trimmedMean(per[i]!) }));
}

const BEFORE_LABEL = 'before: ';

/** One row per item, with the --before figure beside it when there is one. */
function table(title: string, rows: { name: string; ms: number }[]): string {
  const before = new Map(
    rows.filter((r) => r.name.startsWith(BEFORE_LABEL)).map((r) => [r.name.slice(BEFORE_LABEL.length), r.ms]),
  );
  const now = rows.filter((r) => !r.name.startsWith(BEFORE_LABEL));
  const total = (rs: { name: string; ms: number }[]) =>
    rs.filter((r) => r.name.startsWith('sent: ')).reduce((a, r) => a + r.ms, 0);
  now.push({ name: 'per-host total (the sent lines)', ms: total(now) });
  if (before.size)
    before.set('per-host total (the sent lines)', total([...before].map(([name, ms]) => ({ name, ms }))));
  const w = Math.max(...now.map((r) => r.name.length));
  const fmt = (x: number | undefined) => (x === undefined ? '' : x.toFixed(1)).padStart(7);
  return [
    `${title}: CPU ms per run (user+system of children; mean of the middle 80% of ${RUNS} runs)`,
    `  ${''.padEnd(w)}  ${'now'.padStart(7)}${before.size ? `  ${`${BEFORE}`.padStart(7)}` : ''}`,
    ...now.map((r) => `  ${r.name.padEnd(w)}  ${fmt(r.ms)}${before.size ? `  ${fmt(before.get(r.name))}` : ''}`),
  ].join('\n');
}

async function main(): Promise<void> {
  const lab: Lab = await createLab({ hosts: 1 });
  try {
    const inventory = (await loadInventory(await lab.writeInventory())).inventory;
    const steps = planPreflight(inventory).hosts[0]!.steps;
    const list = [...items(steps), ...(BEFORE ? items(steps, await probesAt(BEFORE), BEFORE_LABEL) : [])];
    if (CONTAINERD) {
      await startPlainContainerd(lab, 'h1');
    }
    const onHost = await measure(async (cmd) => (await lab.exec('h1', cmd)).stdout, list, RUNS);
    console.log(table(`lab host h1 (namespace host${CONTAINERD ? ', containerd running' : ''})`, onHost));
    if (LOCAL) {
      const local = await measure(
        async (cmd) => (await promisify(execFile)('/bin/sh', ['-c', cmd], { maxBuffer: 64 << 20 })).stdout,
        list,
        RUNS,
      );
      console.log(table('this machine', local));
    }
  } finally {
    await lab.destroy();
  }
}

if (process.argv[1]?.endsWith('probe-cpu.ts')) {
  await main();
}
