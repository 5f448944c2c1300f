// Entry point: parse argv, load only the command module that was named (src/cli/commands/index.ts), and turn
// every failure into words and an exit code in one place (src/cli/failure.ts).
import { Command } from 'commander';
import { registerCommands } from './cli/commands/index.js';
import { forTerminal } from './cli/terminal-text.js';

const program = new Command('kubeadm2ha')
  .description('Highly-available kubeadm clusters, every operation a durable Temporal workflow')
  .option('--verbose', 'on failure, print the whole failure chain')
  .showHelpAfterError();

try {
  await registerCommands(program, process.argv.slice(2));
  await program.parseAsync(process.argv);
} catch (err) {
  const verbose = process.argv.includes('--verbose') || Boolean(process.env.KUBEADM2HA_VERBOSE);
  // Loaded only on failure: it reads Temporal's failure classes, and those load protobufjs (~150 ms at start).
  const { explainFailure } = await import('./cli/failure.js');
  const { code, lines } = explainFailure(err, verbose);
  // A failure quotes hosts' stderr, file names and inventory values: shown, never obeyed as escape sequences.
  const [first, ...rest] = lines.map(forTerminal);
  console.error(`kubeadm2ha: ${first ?? ''}`);
  for (const l of rest) console.error(l);
  process.exitCode = code;
}
