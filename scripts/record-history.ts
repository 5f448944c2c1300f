// Records a finished workflow's history as a replay fixture: npx tsx scripts/record-history.ts <workflowId> <name>
// Run against a server where the workflow ran with the payload codec off (KUBEADM2HA_CODEC=off), so the fixture
// replays without a key; check the file holds nothing secret before committing it (the replay test reads it).
// The Temporal CLI's JSON export is the format historyFromJSON reads back.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTemporalCli } from '../src/temporal/cli-binary.js';
import { resolveTemporalOptions } from '../src/temporal/connection.js';

const [workflowId, name] = process.argv.slice(2);
if (!workflowId || !name) {
  console.error('usage: record-history.ts <workflowId> <fixture-name>');
  process.exit(2);
}
const opts = resolveTemporalOptions({});
const cli = await ensureTemporalCli();
const json = execFileSync(
  cli,
  ['workflow', 'show', '--address', opts.address, '--namespace', opts.namespace, '-w', workflowId, '--output', 'json'],
  {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  },
);
const out = join(import.meta.dirname, '..', 'test', 'fixtures', 'histories', `${name}.json`);
writeFileSync(out, json.endsWith('\n') ? json : json + '\n');
console.log(`wrote ${out} (${(JSON.parse(json) as { events: unknown[] }).events.length} events)`);
