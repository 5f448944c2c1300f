// The lazily loaded command table: top-level help lists what the modules really register, and naming a command
// loads only its module.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandModules, registerCommands } from '../../../src/cli/commands/index.js';

describe('CLI command table', () => {
  it.each(commandModules.map((m) => [Object.keys(m.commands).join(', '), m] as const))(
    '%s: the summaries help shows are the descriptions the module registers',
    async (_names, m) => {
      const program = new Command('kubeadm2ha');
      (await m.load()).register(program);
      const registered = Object.fromEntries(program.commands.map((c) => [c.name(), c.description()]));
      expect(registered).toEqual(m.commands);
    },
  );

  it('registers the named command in full and the others as one-line entries', async () => {
    const program = new Command('kubeadm2ha');
    await registerCommands(program, ['etcd', 'setup', '--dry-run']);
    const etcd = program.commands.find((c) => c.name() === 'etcd');
    expect(etcd?.commands.map((c) => c.name())).toContain('setup');
    expect(program.commands.find((c) => c.name() === 'certs')?.commands).toEqual([]);
    expect(program.commands.map((c) => c.name()).sort()).toEqual(
      commandModules.flatMap((m) => Object.keys(m.commands)).sort(),
    );
  });
});

describe('the published package', () => {
  it('holds no lab: package.json files lists bin, dist and docs only, and no product module imports lab/', async () => {
    const { readFile } = await import('node:fs/promises');
    const { execFileSync } = await import('node:child_process');
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { files?: string[] };
    expect(pkg.files).toEqual(['bin', 'dist', 'README.md']);
    // git grep exits 1 when nothing matches: that is the passing case.
    let hits = '';
    try {
      hits = execFileSync('git', ['grep', '-lE', String.raw`from '(\.\./)+lab/`, '--', 'src'], { encoding: 'utf8' });
    } catch (err) {
      if ((err as { status?: number }).status !== 1) throw err;
    }
    expect(hits).toBe('');
  });
});
