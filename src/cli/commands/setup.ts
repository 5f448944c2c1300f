// `kubeadm2ha setup -i <inventory> [--dry-run]`: an HA cluster from bare hosts, as a durable workflow (the setup
// runbook on the runbook executor). --dry-run prints that runbook and contacts nothing.
import type { Command } from 'commander';
import { describeRunbook } from '../../plan/runbook.js';
import { planSetup } from '../../plan/setup.js';
import type { RunbookResult } from '../../workflows/runbook.js';
import type { SetupClusterInput } from '../../workflows/setup.js';
import { addOperationOptions, addRunbookOptions, onFailureFlag } from '../context.js';
import { addInventoryOption, runInventoryOperation, type InventoryFlags } from '../inventory-operation.js';

interface SetupFlags extends InventoryFlags {
  onFailure?: string;
}

export function setup(flags: SetupFlags): Promise<RunbookResult | undefined> {
  return runInventoryOperation<SetupFlags, SetupClusterInput, RunbookResult>(flags, {
    workflowType: 'setupCluster',
    operation: 'setup',
    input: (inventory) => ({ inventory, onFailure: onFailureFlag(flags.onFailure) }),
    dryRun: ({ inventory, onFailure }) => {
      const runbook = { ...planSetup(inventory), ...(onFailure && { onFailure }) };
      return { json: runbook, lines: describeRunbook(runbook) };
    },
    report: (result, inventory) => [
      `cluster ${inventory.cluster.name} set up: ${result.steps.length} steps done`,
      ...(result.skipped.length ? [`skipped by decision: ${result.skipped.join(', ')}`] : []),
    ],
  });
}

export function register(program: Command): void {
  addRunbookOptions(
    addOperationOptions(
      addInventoryOption(
        program
          .command('setup')
          .description(
            'set up (or converge) the HA cluster: nodes, etcd, VIP and load balancer, kubeadm init and joins',
          ),
      ),
    ),
  ).action(async (flags: SetupFlags) => {
    await setup(flags);
  });
}
