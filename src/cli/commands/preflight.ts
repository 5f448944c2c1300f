// `kubeadm2ha preflight -i <inventory>`: check every host before setup, as a durable workflow.
import type { Command } from 'commander';
import { sshTrustOf } from '../../activities/ssh-trust.js';
import { formatWarning, loadInventory } from '../../inventory/index.js';
import { planPreflight } from '../../plan/preflight.js';
import type { PreflightReport } from '../../plan/types.js';
import { workflowIdFor } from '../../workflows/ids.js';
import { addOperationOptions, operationContext, type OperationFlags } from '../context.js';
import { runOperation } from '../operation.js';
import { formatPreflightReport } from '../report.js';

interface PreflightFlags extends OperationFlags {
  inventory: string;
  dryRun?: boolean;
}

export async function preflight(flags: PreflightFlags): Promise<PreflightReport | undefined> {
  const { inventory, warnings } = await loadInventory(flags.inventory);
  for (const w of warnings) process.stderr.write(`warning: ${formatWarning(w)}\n`);
  const plan = planPreflight(inventory);
  if (flags.dryRun) {
    // The same plan the workflow runs: nothing is contacted.
    if (flags.json) console.log(JSON.stringify(plan, null, 2));
    else
      for (const h of plan.hosts)
        console.log(`${h.target.name} (${h.target.address}): ${h.steps.map((s) => s.id).join(', ')}`);
    return undefined;
  }
  const { ctx, close } = await operationContext(flags, sshTrustOf(inventory));
  try {
    const report = await runOperation<unknown, PreflightReport>(ctx, {
      workflowType: 'preflightCluster',
      workflowId: workflowIdFor(inventory.cluster.name, 'preflight'),
      args: [{ inventory }],
      cluster: inventory.cluster.name,
      operation: 'preflight',
      kubernetesVersion: inventory.cluster.kubernetesVersion,
    });
    if (flags.json) console.log(JSON.stringify(report, null, 2));
    else console.log(formatPreflightReport(report));
    if (!report.ok) process.exitCode = 1;
    return report;
  } finally {
    await close();
  }
}

export function register(program: Command): void {
  addOperationOptions(
    program
      .command('preflight')
      .description('check every host against the kubeadm prerequisites (read-only)')
      .requiredOption('-i, --inventory <file>', 'inventory: our YAML, or an Ansible INI inventory with group_vars')
      .option('--dry-run', 'print which checks would run on which host, contact nothing'),
  ).action(async (flags: PreflightFlags) => {
    await preflight(flags);
  });
}
