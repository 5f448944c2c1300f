// ssh.maxConcurrency, the hosts one run works on at once (see MAX_SSH_CONCURRENCY in src/inventory/schema.ts): 80 and
// 500 load (a run of 80 hosts may work on all of them at once), and a value out of range is reported at its line
// with the range it must be in.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/inventory/index.js';
import { MAX_SSH_CONCURRENCY } from '../../../src/inventory/schema.js';

let dir: string;
let valid: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-ssh-concurrency-'));
  valid = await readFile('test/fixtures/inventory/yaml/valid.yaml', 'utf8');
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The fixture with `ssh: maxConcurrency: <value>` on line 7; what loading it says. */
async function load(value: string): Promise<{ max?: number; error?: string }> {
  const file = join(dir, `inv-${encodeURIComponent(value)}.yaml`);
  await writeFile(file, valid.replace(/^hosts:$/m, `ssh:\n  maxConcurrency: ${value}\nhosts:`));
  try {
    return { max: (await loadInventory(file)).inventory.ssh.maxConcurrency };
  } catch (err) {
    return { error: (err as Error).message.replaceAll(file, 'inv.yaml') };
  }
}

describe('ssh.maxConcurrency', () => {
  it('defaults to 50 and takes any whole number of hosts up to 500', async () => {
    expect(MAX_SSH_CONCURRENCY).toBe(500);
    expect((await loadInventory('test/fixtures/inventory/yaml/valid.yaml')).inventory.ssh.maxConcurrency).toBe(50);
    for (const n of [1, 80, 500]) expect(await load(String(n))).toEqual({ max: n });
  });

  it.each([
    ['0', 'expected a number >= 1; got 0'],
    ['-3', 'expected a number >= 1; got -3'],
    ['501', 'expected a number <= 500; got 501'],
    ['100000', 'expected a number <= 500; got 100000'],
    ['2.5', 'expected a whole number, got number 2.5'],
    ['fifty', 'expected a number, got string "fifty"'],
  ])('%s is reported at its line with the range', async (value, text) => {
    expect((await load(value)).error).toBe(
      `inventory is invalid (1 problem):\n  inv.yaml:7:19 ssh.maxConcurrency: ${text}`,
    );
  });
});
