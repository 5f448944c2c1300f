// The lab's own command line, for developers of kubeadm2ha (not part of the published package):
//   npm run lab -- up [--hosts N] [--kubernetes [version]] | down --id N | status
//   npm run demo   (the README's first command: preflight on a fresh lab, on the local Temporal server)
// It reuses the product's failure reporting so a lab error reads like any other kubeadm2ha error.
import { Command } from 'commander';
import { explainFailure } from '../src/cli/failure.js';
import { register as registerDemo } from './cli/demo-command.js';
import { register as registerLab } from './cli/lab-command.js';

const program = new Command('lab')
  .description('SSH hosts in network namespaces on this machine, for trying kubeadm2ha (needs root)')
  .option('--verbose', 'on failure, print the whole failure chain')
  .showHelpAfterError();
registerLab(program);
registerDemo(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const verbose = process.argv.includes('--verbose') || Boolean(process.env.KUBEADM2HA_VERBOSE);
  const { code, lines } = explainFailure(err, verbose);
  const [first, ...rest] = lines;
  console.error(`lab: ${first ?? ''}`);
  for (const l of rest) console.error(l);
  process.exitCode = code;
}
