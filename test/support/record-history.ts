// Re-recording replay fixtures from the lab tests themselves: with KUBEADM2HA_RECORD_HISTORIES=1 (and
// KUBEADM2HA_CODEC=off, so the fixture replays without a key) a test hands a finished run's id to
// scripts/record-history.ts, which exports it with the Temporal CLI into test/fixtures/histories/<name>.json.
// Check the file holds nothing secret before committing it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { temporalAddress } from '../e2e/helpers.js';

export async function recordHistoryIfAsked(workflowId: string, name: string): Promise<void> {
  if (!process.env.KUBEADM2HA_RECORD_HISTORIES) return;
  if (process.env.KUBEADM2HA_CODEC !== 'off') throw new Error('record histories with KUBEADM2HA_CODEC=off');
  const { stdout } = await promisify(execFile)('npx', ['tsx', 'scripts/record-history.ts', workflowId, name], {
    env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress() },
    timeout: 120_000,
  });
  process.stderr.write(stdout);
}
