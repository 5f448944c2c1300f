// Determinism guard: histories recorded from real runs (scripts/record-history.ts) must replay against today's
// workflow code. A change that would break runs in flight during an upgrade of kubeadm2ha fails here, not in a
// user's cluster. Add a history whenever a workflow changes shape on purpose (and version the change with patched()).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, '..', '..', 'fixtures', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
const workflowsPath = join(import.meta.dirname, '..', '..', '..', 'src', 'workflows', 'index.ts');

describe('replay of recorded histories', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s replays without nondeterminism', { timeout: 120_000 }, async (file) => {
    // The worker converts the Temporal CLI's JSON export itself.
    const history: unknown = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    // Throws DeterminismViolationError (or the workflow's own failure) if today's code takes another path.
    await Worker.runReplayHistory({ workflowsPath }, history, file.replace(/\.json$/, ''));
  });
});
