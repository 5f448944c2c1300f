// `kubeadm2ha uninstall -i <inventory> [--yes] [--dry-run] [--purge-packages]`: every host back to what a new setup
// starts from, as a durable workflow (the uninstall runbook on the runbook executor). It destroys a cluster, so it
// asks first: a person at a terminal types the cluster's name; without a terminal it needs --yes, and refuses
// otherwise (a script that forgot --yes must not hang on a prompt nobody sees, nor go ahead).
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.js';
import type { Inventory } from '../../inventory/schema.js';
import { describeRunbook } from '../../plan/runbook.js';
import { planUninstall } from '../../plan/uninstall.js';
import type { RunbookResult } from '../../workflows/runbook.js';
import type { UninstallClusterInput } from '../../workflows/uninstall.js';
import { addOperationOptions, addRunbookOptions, onFailureFlag } from '../context.js';
import { addInventoryOption, runInventoryOperation, type InventoryFlags } from '../inventory-operation.js';

interface UninstallFlags extends InventoryFlags {
  yes?: boolean;
  purgePackages?: boolean;
  onFailure?: string;
}

/** Ask on the terminal; true only when the person typed the cluster's name. */
async function confirmed(inv: Inventory, purge: boolean): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new InvalidInputError(
      `uninstall destroys cluster ${inv.cluster.name} and asks for confirmation, but there is no terminal to ask on: ` +
        'pass --yes to go ahead without asking',
    );
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `This removes Kubernetes${purge ? ' and its packages' : ''}, etcd and its data, keepalived and the load balancer ` +
        `from ${inv.hosts.map((h) => h.name).join(', ')}.\nType the cluster name (${inv.cluster.name}) to go on: `,
    );
    return answer.trim() === inv.cluster.name;
  } finally {
    rl.close();
  }
}

export function uninstall(flags: UninstallFlags): Promise<RunbookResult | undefined> {
  return runInventoryOperation<UninstallFlags, UninstallClusterInput, RunbookResult>(flags, {
    workflowType: 'uninstallCluster',
    operation: 'uninstall',
    command: 'uninstall',
    about: (input) => (input.purgePackages ? '(purge packages)' : undefined),
    input: (inventory) => ({
      inventory,
      purgePackages: Boolean(flags.purgePackages),
      onFailure: onFailureFlag(flags.onFailure),
    }),
    dryRun: (input) => {
      const runbook = planUninstall(input.inventory, input);
      return { json: runbook, lines: describeRunbook(runbook) };
    },
    beforeRun: async (input, inventory) => {
      if (flags.yes || (await confirmed(inventory, Boolean(input.purgePackages)))) return;
      throw new InvalidInputError(`not confirmed: cluster ${inventory.cluster.name} left as it is`);
    },
    report: (result, inventory) => [
      `cluster ${inventory.cluster.name} uninstalled: ${removedCount(result)} things removed in ${result.steps.length} steps`,
      ...(result.skipped.length ? [`skipped by decision: ${result.skipped.join(', ')}`] : []),
    ],
  });
}

const removedCount = (r: RunbookResult): number =>
  r.steps.reduce((n, s) => n + ((s.result as { removed?: unknown[] } | undefined)?.removed?.length ?? 0), 0);

export function register(program: Command): void {
  addRunbookOptions(
    addOperationOptions(
      addInventoryOption(
        program
          .command('uninstall')
          .description(
            'tear the cluster down: kubeadm reset everywhere, etcd and its data, VIP, load balancer, CNI state',
          ),
      )
        .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
        .option('--purge-packages', 'also purge kubeadm, kubelet and kubectl'),
    ),
  ).action(async (flags: UninstallFlags) => {
    await uninstall(flags);
  });
}
