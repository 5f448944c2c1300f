// scripts/setup.sh (what a fresh machine gets) and LAB_PACKAGES (what `lab up` checks and installs) must name the
// same Debian packages, or one path works and the other breaks on a fresh machine.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { LAB_PACKAGES } from '../../../lab/packages.js';

describe('lab packages', () => {
  it('scripts/setup.sh installs exactly LAB_PACKAGES', async () => {
    const script = await readFile(new URL('../../../scripts/setup.sh', import.meta.url), 'utf8');
    const list = /pkgs=\(([^)]*)\)/.exec(script)?.[1];
    expect(list).toBeDefined();
    expect(list!.split(/\s+/).filter(Boolean).sort()).toEqual([...LAB_PACKAGES].sort());
  });
});
