// `kubeadm2ha setup -i <inventory> [--dry-run]`: an HA cluster from bare hosts, as a durable workflow (the setup
// runbook on the runbook executor). --dry-run prints that runbook and contacts nothing.
import type { Command } from 'commander';
import { describeRunbook } from '../../plan/runbook.js';
import { planSetup } from '../../plan/setup.js';
import type { RunbookResult } from '../../workflows/runbook.js';
import type { SetupClusterInput } from '../../workflows/setup.js';
import { addOperationOptions } from '../context.js';
import { addInventoryOption, runInventoryOperation, type InventoryFlags } from '../inventory-operation.js';

export function setup(flags: InventoryFlags): Promise<RunbookResult | undefined> {
  return runInventoryOperation<InventoryFlags, SetupClusterInput, RunbookResult>(flags, {
    workflowType: 'setupCluster',
    operation: 'setup',
    input: (inventory) => ({ inventory }),
    dryRun: ({ inventory }) => {
      const runbook = planSetup(inventory);
      return { json: runbook, lines: describeRunbook(runbook) };
    },
    report: (result, inventory) => [
      `cluster ${inventory.cluster.name} set up: ${result.steps.length} steps done`,
      ...(result.skipped.length ? [`skipped by decision: ${result.skipped.join(', ')}`] : []),
    ],
  });
}

export function register(program: Command): void {
  addOperationOptions(
    addInventoryOption(
      program
        .command('setup')
        .description('set up (or converge) the HA cluster: nodes, etcd, VIP and load balancer, kubeadm init and joins'),
    ).option('--dry-run', 'print the runbook (phases, hosts, steps), contact nothing'),
  ).action(async (flags: InventoryFlags) => {
    await setup(flags);
  });
}
