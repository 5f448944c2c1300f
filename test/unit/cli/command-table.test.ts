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
    expect(program.commands.find((c) => c.name() === 'lab')?.commands).toEqual([]);
    expect(program.commands.map((c) => c.name()).sort()).toEqual(
      commandModules.flatMap((m) => Object.keys(m.commands)).sort(),
    );
  });
});
