// `addons apply|remove --dry-run` prints the very runbook the workflow runs and contacts nothing (the Temporal
// address is a closed port); a retired or unknown addon is refused before anything is contacted; `addons list`
// says which addon is retired and why.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { addonsList, manageAddon } from '../../../src/cli/commands/addons.js';
import { InvalidInputError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/index.js';
import { planAddon } from '../../../src/plan/addons.js';

const inventoryPath = 'test/fixtures/inventory/yaml/valid.yaml';
const offline = { inventory: inventoryPath, dryRun: true, address: '127.0.0.1:1' };

async function printed(run: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    await run();
  } finally {
    log.mockRestore();
  }
  return lines.join('\n');
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('addons CLI', () => {
  it('--dry-run --json prints exactly the planned runbook, for apply (with --no-wait) and remove', async () => {
    const { inventory } = await loadInventory(inventoryPath);
    const apply = await printed(() => manageAddon('dashboard', 'apply', { ...offline, json: true, wait: false }));
    expect(JSON.parse(apply)).toEqual(
      JSON.parse(JSON.stringify(planAddon(inventory, 'dashboard', 'apply', { onFailure: 'decide', wait: false }))),
    );
    const remove = await printed(() => manageAddon('metrics', 'remove', { ...offline, json: true, timeout: '60' }));
    expect(JSON.parse(remove)).toEqual(
      JSON.parse(JSON.stringify(planAddon(inventory, 'metrics', 'remove', { timeoutSeconds: 60 }))),
    );
  });

  it('a retired or unknown addon is refused with the reason, before anything is contacted', async () => {
    await expect(manageAddon('etcd-operator', 'apply', { ...offline, dryRun: false })).rejects.toThrow(
      InvalidInputError,
    );
    await expect(manageAddon('etcd-operator', 'apply', offline)).rejects.toThrow(/retired: .*alpha/);
    await expect(manageAddon('heapster', 'apply', offline)).rejects.toThrow(/unknown addon heapster/);
  });

  it('list says which addon is retired and why, and shows images under the inventory’s imageRepository', async () => {
    const rows = JSON.parse(await printed(() => addonsList({ json: true }))) as {
      name: string;
      status: string;
      retiredBecause?: string;
    }[];
    expect(rows.map((r) => `${r.name}:${r.status}`)).toEqual([
      'metrics:stable',
      'dashboard:stable',
      'monitoring:stable',
      'logging:stable',
      'etcd-operator:retired',
    ]);
    expect(rows.find((r) => r.name === 'etcd-operator')?.retiredBecause).toMatch(/alpha/);
    const text = await printed(() => addonsList({ inventory: inventoryPath }));
    expect(text).toMatch(/retired: /);
  });
});
