// `npm run demo` (lab/cli.ts demo): the README's first command. Brings up a lab of SSH hosts on this machine, runs the preflight
// workflow against them on the local Temporal server (started if needed), prints the report and the Web UI link,
// and tears the lab down. The Temporal server keeps running so the run stays visible in the Web UI.
import type { Command } from 'commander';
import { createLab } from '../index.js';
import { preflight } from '../../src/cli/commands/preflight.js';

interface DemoFlags {
  hosts: string;
  keepLab?: boolean;
  json?: boolean;
}

export async function demo(flags: DemoFlags): Promise<void> {
  const hosts = Number(flags.hosts);
  process.stderr.write(`demo: bringing up a lab of ${hosts} SSH hosts (network namespaces on 10.200.0.0/16)\n`);
  const lab = await createLab({ hosts, ...(flags.keepLab && { detached: true }) });
  try {
    const inventory = await lab.writeInventory();
    process.stderr.write(`demo: lab ${lab.subnet} up; inventory ${inventory}\n`);
    await preflight({ inventory, worker: 'embedded', ...(flags.json && { json: true }) });
    process.stderr.write(
      'demo: the Temporal server keeps running for the Web UI; stop it with `kubeadm2ha server stop`\n',
    );
  } finally {
    if (flags.keepLab)
      process.stderr.write(`demo: lab kept (${lab.dir}); remove it with \`npm run lab -- down --id ${lab.id}\`\n`);
    else await lab.destroy();
  }
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('run preflight against a local lab of SSH hosts on the local Temporal server')
    .option('--hosts <n>', 'lab hosts (h1 primary, h2-h3 secondary masters and etcd, the rest workers)', '5')
    .option('--keep-lab', 'leave the lab running afterwards')
    .option('--json', 'print the report as JSON')
    .action(demo);
}
