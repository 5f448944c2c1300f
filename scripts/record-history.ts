// Records a finished workflow's history as a replay fixture: npx tsx scripts/record-history.ts <workflowId> <name>
// Run against a server where the workflow ran with the payload codec off (KUBEADM2HA_CODEC=off), so the fixture
// replays without a key; check the file holds nothing secret before committing it (the replay test reads it).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { createClient, resolveTemporalOptions } from '../src/temporal/connection.js';

const [workflowId, name] = process.argv.slice(2);
if (!workflowId || !name) {
  console.error('usage: record-history.ts <workflowId> <fixture-name>');
  process.exit(2);
}
const client = await createClient(resolveTemporalOptions({}));
const history = await client.workflow.getHandle(workflowId).fetchHistory();
const out = join(import.meta.dirname, '..', 'test', 'fixtures', 'histories', `${name}.json`);
writeFileSync(out, historyToJSON(history) + '\n');
console.log(`wrote ${out} (${history.events?.length ?? 0} events)`);
await client.connection.close();
