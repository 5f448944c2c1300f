// `kubeadm2ha setup -i <inventory> [--dry-run]`: an HA cluster from bare hosts, as a durable workflow (the setup
// runbook on the runbook executor). --dry-run prints that runbook and contacts nothing.
import type { Command } from 'commander';
import { sshTrustOf } from '../../activities/ssh-trust.js';
import { formatWarning, loadInventory } from '../../inventory/index.js';
import { describeRunbook } from '../../plan/runbook.js';
import { planSetup } from '../../plan/setup.js';
import { workflowIdFor } from '../../workflows/ids.js';
import type { RunbookResult } from '../../workflows/runbook.js';
import type { SetupClusterInput } from '../../workflows/setup.js';
import { addOperationOptions, operationContext, type OperationFlags } from '../context.js';
import { runOperation } from '../operation.js';

interface SetupFlags extends OperationFlags {
  inventory: string;
  dryRun?: boolean;
}

export async function setup(flags: SetupFlags): Promise<RunbookResult | undefined> {
  const { inventory, warnings } = await loadInventory(flags.inventory);
  for (const w of warnings) process.stderr.write(`warning: ${formatWarning(w)}\n`);
  const runbook = planSetup(inventory);
  if (flags.dryRun) {
    if (flags.json) console.log(JSON.stringify(runbook, null, 2));
    else for (const line of describeRunbook(runbook)) console.log(line);
    return undefined;
  }
  const { ctx, close } = await operationContext(flags, sshTrustOf(inventory));
  try {
    const result = await runOperation<SetupClusterInput, RunbookResult>(ctx, {
      workflowType: 'setupCluster',
      workflowId: workflowIdFor(inventory.cluster.name, 'setup'),
      args: [{ inventory }],
      cluster: inventory.cluster.name,
      operation: 'setup',
      kubernetesVersion: inventory.cluster.kubernetesVersion,
    });
    if (flags.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`cluster ${inventory.cluster.name} set up: ${result.steps.length} steps done`);
      if (result.skipped.length) console.log(`skipped by decision: ${result.skipped.join(', ')}`);
    }
    return result;
  } finally {
    await close();
  }
}

export function register(program: Command): void {
  addOperationOptions(
    program
      .command('setup')
      .description('set up (or converge) the HA cluster: nodes, etcd, VIP and load balancer, kubeadm init and joins')
      .requiredOption('-i, --inventory <file>', 'inventory: our YAML, or an Ansible INI inventory with group_vars')
      .option('--dry-run', 'print the runbook (phases, hosts, steps), contact nothing'),
  ).action(async (flags: SetupFlags) => {
    await setup(flags);
  });
}
