// Entry point: parse argv, hand each command to its module in src/cli/commands/, and map errors to exit codes
// in one place. Exit codes: 0 ok, 1 the operation found problems (e.g. preflight failures), 2 bad input,
// 3 could not reach hosts or Temporal, 70 a bug (stack printed).
import { Command } from 'commander';
import { KubeadmHaError, FailureType } from './errors.js';
import { commands } from './cli/commands/index.js';

const program = new Command('kubeadm2ha')
  .description('Highly-available kubeadm clusters, every operation a durable Temporal workflow')
  .showHelpAfterError();
for (const register of commands) register(program);

export function exitCodeFor(err: unknown): number {
  if (err instanceof KubeadmHaError) {
    if (err.type === FailureType.InvalidInput) return 2;
    if (err.type === FailureType.HostUnreachable) return 3;
    return 1;
  }
  return 70;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const code = exitCodeFor(err);
  if (code === 70) {
    console.error(err);
    console.error('kubeadm2ha: unexpected error; this is a bug, please report it with the output above.');
  } else {
    console.error(`kubeadm2ha: ${(err as Error).message}`);
  }
  process.exitCode = code;
}
