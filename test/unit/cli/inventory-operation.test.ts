// The one command skeleton (src/cli/inventory-operation.ts): every ported command's --dry-run prints its planner's
// object (--json) or its lines, and contacts nothing — the Temporal address points at a closed port, so a contact
// would fail the call.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadInventory } from '../../../src/inventory/index.js';
import { check, renew } from '../../../src/cli/commands/certs.js';
import { etcdRestore, etcdSetup } from '../../../src/cli/commands/etcd.js';
import { preflight } from '../../../src/cli/commands/preflight.js';
import { setup } from '../../../src/cli/commands/setup.js';
import { uninstall } from '../../../src/cli/commands/uninstall.js';
import { runInventoryOperation } from '../../../src/cli/inventory-operation.js';
import { planCertificateCheck } from '../../../src/plan/certs.js';
import { planEtcdRenewalRunbook } from '../../../src/plan/cert-renewal.js';
import { planEtcdSetupRunbook } from '../../../src/plan/etcd.js';
import { planPreflight } from '../../../src/plan/preflight.js';
import { planSetup } from '../../../src/plan/setup.js';
import { planUninstall } from '../../../src/plan/uninstall.js';

const inventoryPath = 'test/fixtures/inventory/yaml/valid.yaml';
const offline = { inventory: inventoryPath, dryRun: true, address: '127.0.0.1:1' };

async function printed(run: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    expect(await run()).toBeUndefined();
  } finally {
    log.mockRestore();
  }
  return lines.join('\n');
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('inventory operation skeleton', () => {
  it('--dry-run --json prints exactly the object each command plans', async () => {
    const { inventory } = await loadInventory(inventoryPath);
    const json = { ...offline, json: true };
    const cases: [string, () => Promise<unknown>, unknown][] = [
      ['preflight', () => preflight(json), planPreflight(inventory)],
      ['setup', () => setup({ ...json, facts: false }), planSetup(inventory)],
      [
        'uninstall',
        () => uninstall({ ...json, purgePackages: true }),
        planUninstall(inventory, { purgePackages: true, onFailure: 'decide' }),
      ],
      [
        'etcd setup',
        () => etcdSetup({ ...json, healthTimeout: '120' }),
        planEtcdSetupRunbook({ inventory, healthTimeoutSeconds: 120, onFailure: 'decide' }).runbook,
      ],
      [
        'certs check',
        () => check({ ...json, thresholdDays: '30' }),
        planCertificateCheck({ inventory, thresholdDays: 30 }),
      ],
      [
        'certs renew',
        () => renew({ ...json, etcd: true, healthTimeout: '120' }),
        planEtcdRenewalRunbook({ inventory, healthTimeoutSeconds: 120, onFailure: 'decide' }).runbook,
      ],
    ];
    for (const [name, run, planned] of cases) {
      expect(JSON.parse(await printed(run)), name).toEqual(JSON.parse(JSON.stringify(planned)));
    }
    // The restore's runbook, with the snapshot checked first.
    const restore = JSON.parse(await printed(() => etcdRestore({ ...json, snapshot: '/tmp/s.db' }))) as {
      phases: { id: string; steps?: { id: string; args: { path?: string } }[] }[];
    };
    expect(restore.phases.map((p) => p.id)).toEqual(['verify', 'stop', 'restore', 'start', 'health']);
    expect(restore.phases[0]!.steps![0]).toMatchObject({ id: 'verifyEtcdSnapshotFile', args: { path: '/tmp/s.db' } });
  });

  it('--dry-run without --json prints the lines, one host per preflight line', async () => {
    const text = await printed(() => preflight(offline));
    expect(text.split('\n').map((l) => l.split(' ')[0])).toEqual(['h1', 'h2', 'h3', 'h4']);
  });

  it('bad flags are refused before anything is contacted', async () => {
    await expect(
      runInventoryOperation(
        { ...offline, dryRun: false },
        {
          workflowType: 'none',
          operation: 'setup',
          command: 'setup',
          input: () => {
            throw new Error('refused by input');
          },
          report: () => [],
        },
      ),
    ).rejects.toThrow('refused by input');
  });
});
