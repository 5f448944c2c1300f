// A "billion laughs" inventory: a few lines whose nested aliases expand to millions of nodes. Loading one took
// minutes of CPU (the position walk followed every alias before the library's alias cap was reached); it must be
// refused at once, pointing at the alias that expands too far.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InventoryError, loadInventory } from '../../../src/inventory/index.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'k2h-bomb-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Level 0 is a list of nine scalars; every further level is a list of nine aliases to the level before. */
function bomb(levels: number, indent = ''): string {
  const lines = [`${indent}l0: &l0 [${Array(9).fill('"lol"').join(', ')}]`];
  for (let i = 1; i <= levels; i++)
    lines.push(
      `${indent}l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(', ')}]`,
    );
  return lines.join('\n');
}

async function refusal(text: string): Promise<{ err: InventoryError; ms: number }> {
  const file = join(tmp, `bomb-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, text);
  // CPU time of this process, not wall time: the expansion it guards against is CPU-bound (120 s+ unguarded), and
  // wall time on a loaded machine says more about the neighbours than about the parser.
  const t0 = process.cpuUsage();
  const err = await loadInventory(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  const used = process.cpuUsage(t0);
  const ms = (used.user + used.system) / 1000;
  expect(err).toBeInstanceOf(InventoryError);
  return { err: err as InventoryError, ms };
}

describe('YAML alias bombs', () => {
  it('an inventory whose aliases expand to 9^9 nodes is refused within seconds, at the expanding alias', async () => {
    const { err, ms } = await refusal(`${bomb(8)}\ncluster: {name: x}\nhosts: *l8\n`);
    expect(ms).toBeLessThan(5_000);
    expect(err.issues).toHaveLength(1);
    // l5 (9^6 nodes) is the first level whose expansion passes the cap; its first alias is on line 6, column 10.
    expect(err.message).toMatch(/bomb-\w+\.yaml:6:10 l5\[.*\]: aliases expand to more than 100000 nodes/);
  });

  it('a bomb nested deeper than the position walk goes is refused by the library cap, not run', async () => {
    const open = '['.repeat(70);
    const text = `deep: ${open}{${bomb(8).replace(/\n/g, ', ')}}${']'.repeat(70)}\n`;
    const { err, ms } = await refusal(text);
    expect(ms).toBeLessThan(5_000);
    expect(err.message).toMatch(/\.yaml:1:1 \(yaml\): Excessive alias count/);
  });
});
