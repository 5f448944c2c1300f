// `npm run bench`: every section in one run on one lab and one dev server, one table. Written to bench/RESULTS.md
// (the README links it) and printed. Sections are modules in bench/sections: add one to SECTIONS to extend the
// table. BENCH_ONLY=name,name runs a subset: its rows replace theirs in the table and the header says when.
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createLab } from '../lab/index.js';
import { writeLabInventory } from '../lab/inventory.js';
import { loadInventory } from '../src/inventory/index.js';
import { startDevServer, stopDevServer } from '../src/temporal/dev-server.js';
import { freePort } from '../src/temporal/process-util.js';
import { ansibleSection } from './sections/ansible.js';
import { fanoutSection } from './sections/fanout.js';
import { fanoutIoSection } from './sections/fanout-io.js';
import { overheadSection } from './sections/overhead.js';
import { processSection } from './sections/process.js';
import { markdown, mergeMarkdown, type BenchContext, type Row, type Section } from './table.js';

const SECTIONS: Section[] = [ansibleSection, fanoutSection, fanoutIoSection, overheadSection, processSection];

const only = process.env.BENCH_ONLY?.split(',');
const sections = SECTIONS.filter((s) => !only || only.some((o) => s.name.includes(o)));
const lab = await createLab({ hosts: Math.max(1, ...sections.map((s) => s.hosts)), readyTimeoutMs: 120_000 });
const server = {
  port: await freePort(),
  headless: true,
  dbFile: join(lab.dir, 'bench-temporal.db'),
  logLevel: 'error' as const,
};
const rows: Row[] = [];
const loadBefore = loadavg()[0]!;
try {
  const info = await startDevServer(server);
  const ctx: BenchContext = {
    lab,
    devAddress: info.address,
    ...(info.pid !== undefined && { devPid: info.pid }),
    log: (line) => console.log(line),
    async inventory(n) {
      const path = await writeLabInventory(
        join(lab.dir, `bench-${n}.yaml`),
        lab.inventory({ hosts: lab.inventory().hosts.slice(0, n) }),
      );
      return (await loadInventory(path)).inventory;
    },
  };
  for (const s of sections) {
    console.log(`bench: ${s.name}`);
    rows.push(...(await s.run(ctx)));
  }
} finally {
  await stopDevServer(server).catch(() => undefined);
  await lab.destroy();
}
const ran = `${new Date().toISOString()}: ${cpus().length} cores, load ${loadBefore.toFixed(1)} at start and ${loadavg()[0]!.toFixed(1)} at the end`;
const header = [
  '# kubeadm2ha benchmark',
  '',
  `One \`npm run bench\` run, ${ran}.`,
  'Every figure and ratio in this table comes from this same run (bench/run.ts, bench/sections/*), except rows ' +
    'a later subset run replaced (said below); the images sections at the end are runs of ' +
    'bench/images-vs-ansible.ts, each with its own date and load.',
];
const file = join(import.meta.dirname, 'RESULTS.md');
const existing = await readFile(file, 'utf8').catch(() => '');
// bench/images-vs-ansible.ts writes its runs as marked sections of the same file, after this table: keep them.
const kept = existing.match(/<!-- images .*? -->[\s\S]*?<!-- \/images .*? -->/g) ?? [];
const table = only
  ? mergeMarkdown(
      existing,
      rows,
      `Rows of ${sections.map((s) => s.name).join(', ')}: from a \`BENCH_ONLY=${only.join(',')}\` run, ${ran}.`,
      SECTIONS,
    )
  : markdown(rows, header, sections);
const text = table + kept.map((k) => `\n${k}\n`).join('');
await writeFile(file, text);
console.log(text);
