// The difference a refused attach prints: paths a user finds in the inventory, values only where not secret.
import { describe, expect, it } from 'vitest';
import { formatChange, inputChanges } from '../../../src/cli/input-diff.js';

describe('input changes', () => {
  it('names every changed leaf by its path, in document order, with before and after', () => {
    const before = {
      inventory: { ssh: { maxConcurrency: 50, user: 'root' }, hosts: [{ name: 'h1', address: '10.200.0.11' }] },
    };
    const after = {
      inventory: {
        ssh: { maxConcurrency: 7, user: 'root' },
        hosts: [{ name: 'h1', address: '10.200.0.12' }, { name: 'h2' }],
      },
    };
    expect(inputChanges(before, after).map(formatChange)).toEqual([
      'inventory.ssh.maxConcurrency: 50 → 7',
      'inventory.hosts[0].address: "10.200.0.11" → "10.200.0.12"',
      'inventory.hosts[1]: (not set) → {"name":"h2"}',
    ]);
  });

  it('the same input, whatever the key order or undefined fields, has no changes', () => {
    expect(inputChanges({ a: 1, b: { c: [1, 2] }, d: undefined }, { b: { c: [1, 2] }, a: 1 })).toEqual([]);
  });

  it('never shows values under secret-looking names, at any depth below them', () => {
    const changes = inputChanges(
      { token: 'abc', creds: { password: 'p1' }, privateKey: { pem: 'K1' }, hostKeyPolicy: 'strict' },
      { token: 'xyz', creds: { password: 'p2' }, privateKey: { pem: 'K2' }, hostKeyPolicy: 'accept-new' },
    );
    const text = changes.map(formatChange).join('\n');
    expect(text).toBe(
      [
        'token: changed (value not shown)',
        'creds.password: changed (value not shown)',
        'privateKey.pem: changed (value not shown)',
        'hostKeyPolicy: "strict" → "accept-new"',
      ].join('\n'),
    );
    for (const secret of ['abc', 'xyz', 'p1', 'p2', 'K1', 'K2']) expect(text).not.toContain(secret);
  });

  it('cuts long values so a changed certificate list cannot flood the terminal', () => {
    const [c] = inputChanges({ list: 'a'.repeat(500) }, { list: 'b' });
    expect(c?.before?.length).toBeLessThanOrEqual(80);
  });
});
