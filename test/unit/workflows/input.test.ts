// acceptInput: the first line of every workflow. Run outside the sandbox here (it is pure); the integration test
// test/e2e/untrusted-input.test.ts proves the same refusal through a real worker and codec.
import { ApplicationFailure } from '@temporalio/common';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UNENCRYPTED } from '../../../src/codec/unencrypted.js';
import { loadInventory } from '../../../src/inventory/index.js';
import type { Inventory } from '../../../src/inventory/schema.js';
import { acceptInput, CHILD_WORKFLOWS, WorkflowInput } from '../../../src/workflows/input.js';
import * as workflows from '../../../src/workflows/index.js';

const fixture = join(import.meta.dirname, '..', '..', 'fixtures', 'inventory', 'yaml', 'valid.yaml');
const load = async (): Promise<Inventory> => (await loadInventory(fixture)).inventory;

function refusal(fn: () => unknown): ApplicationFailure {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected acceptInput to refuse');
}

describe('acceptInput', () => {
  it('has a schema for every workflow the worker serves', () => {
    expect([...Object.keys(WorkflowInput), ...CHILD_WORKFLOWS].sort()).toEqual(Object.keys(workflows).sort());
  });

  it('accepts what the CLI sends and returns it unchanged', async () => {
    const inventory = await load();
    expect(acceptInput('setupEtcdCluster', { inventory, healthTimeoutSeconds: 30 })).toEqual({
      inventory,
      healthTimeoutSeconds: 30,
    });
  });

  it('setupCluster takes onFailure decide or abort, nothing else', async () => {
    const inventory = await load();
    expect(acceptInput('setupCluster', { inventory, onFailure: 'abort' })).toEqual({ inventory, onFailure: 'abort' });
    expect(refusal(() => acceptInput('setupCluster', { inventory, onFailure: 'ignore' })).message).toMatch(/onFailure/);
  });

  it('refuses input that arrived unencrypted, non-retryably, as InvalidInput', async () => {
    const inventory = await load();
    for (const wrapped of [{ [UNENCRYPTED]: { inventory } }, { [UNENCRYPTED]: null }]) {
      const f = refusal(() => acceptInput('preflightCluster', wrapped));
      expect(f.type).toBe('InvalidInput');
      expect(f.nonRetryable).toBe(true);
      expect(f.message).toContain('arrived unencrypted');
    }
  });

  it('refuses a schema violation, naming the field', async () => {
    const inventory = await load();
    const bad = {
      ...inventory,
      hosts: inventory.hosts.map((h, i) => (i === 1 ? { ...h, address: '10.0.0.1\nx' } : h)),
    };
    const f = refusal(() => acceptInput('setupEtcdCluster', { inventory: bad }));
    expect(f.type).toBe('InvalidInput');
    expect(f.message).toContain('inventory.hosts[1].address');
  });

  it('refuses what the cross-field rules refuse (two primary masters)', async () => {
    const inventory = await load();
    const roles: Inventory['hosts'][number]['roles'] = ['primary-master', 'etcd'];
    const bad = { ...inventory, hosts: inventory.hosts.map((h, i) => (i === 1 ? { ...h, roles } : h)) };
    const f = refusal(() => acceptInput('checkCertificates', { inventory: bad }));
    expect(f.message).toMatch(/inventory\.hosts\[1\]\.roles.*second primary master/);
  });

  it('refuses unknown top-level fields', async () => {
    const inventory = await load();
    const f = refusal(() => acceptInput('preflightCluster', { inventory, extra: 1 }));
    expect(f.message).toMatch(/extra/);
  });
});
