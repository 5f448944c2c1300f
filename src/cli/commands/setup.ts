// `kubeadm2ha setup -i <inventory> [--dry-run [--no-facts]]`: an HA cluster from bare hosts, as a durable workflow
// (the setup runbook on the runbook executor). --dry-run reads the hosts' facts over SSH (read-only, the activity
// the workflow runs first) and prints the runbook the workflow would run now: only what is missing. Temporal is not
// contacted; with --no-facts nothing is, and every step is listed.
import type { Command } from 'commander';
import { createSetupFactsActivities, type ReadSetupFactsInput, type SetupFacts } from '../../activities/setup-facts.js';
import { createSshDeps } from '../../activities/ssh-deps.js';
import { sshTrustOf } from '../../activities/ssh-trust.js';
import type { Inventory } from '../../inventory/schema.js';
import { describeRunbook } from '../../plan/runbook.js';
import { planSetup, setupFactsRequest } from '../../plan/setup.js';
import type { RunbookResult } from '../../workflows/runbook.js';
import type { SetupClusterInput } from '../../workflows/setup.js';
import { DRY_RUN_READS_FACTS, addOperationOptions, addRunbookOptions, onFailureFlag } from '../context.js';
import {
  addInventoryOption,
  loadInventoryFile,
  runInventoryOperation,
  type InventoryFlags,
} from '../inventory-operation.js';

interface SetupFlags extends InventoryFlags {
  onFailure?: string;
  /** --yes: etcd members the inventory no longer has are removed without `kubeadm2ha approve`. */
  yes?: boolean;
  /** false with --no-facts: plan every step, contact nothing. */
  facts?: boolean;
}

/** The facts, read from here over SSH (no Temporal): the same activity the workflow runs first (`etcd setup` passes
 * its own request, etcdFactsRequest). */
export async function readSetupFactsHere(
  inv: Inventory,
  request: ReadSetupFactsInput = setupFactsRequest(inv),
): Promise<SetupFacts> {
  const deps = createSshDeps(sshTrustOf(inv));
  try {
    return await createSetupFactsActivities(deps).readSetupFacts(request);
  } finally {
    await deps.close();
  }
}

export async function setup(flags: SetupFlags): Promise<RunbookResult | undefined> {
  if (flags.dryRun) {
    const inventory = await loadInventoryFile(flags.inventory);
    const onFailure = onFailureFlag(flags.onFailure);
    const facts = flags.facts === false ? undefined : await readSetupFactsHere(inventory);
    const runbook = { ...planSetup(inventory, facts, { ...(flags.yes && { approveRemoval: true }) }), onFailure };
    if (flags.json) console.log(JSON.stringify(runbook, null, 2));
    else for (const line of describeRunbook(runbook)) console.log(line);
    return undefined;
  }
  return runInventoryOperation<SetupFlags, SetupClusterInput, RunbookResult>(flags, {
    workflowType: 'setupCluster',
    operation: 'setup',
    command: 'setup',
    input: (inventory) => ({
      inventory,
      onFailure: onFailureFlag(flags.onFailure),
      ...(flags.yes && { approveRemoval: true }),
    }),
    // Planned here without facts only to refuse a bad inventory before Temporal is contacted; the workflow plans
    // from the facts it reads.
    dryRun: ({ inventory, onFailure }) => {
      const runbook = { ...planSetup(inventory), ...(onFailure && { onFailure }) };
      return { json: runbook, lines: describeRunbook(runbook) };
    },
    report: (result, inventory) => [
      result.steps.length === 0
        ? `cluster ${inventory.cluster.name} is set up: nothing was missing`
        : `cluster ${inventory.cluster.name} set up: ${result.steps.length} steps done`,
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
    )
      .option(
        '-y, --yes',
        'remove etcd members the inventory no longer has without waiting for `kubeadm2ha approve` (scale-in)',
      )
      .option(
        '--no-facts',
        'with --dry-run: read nothing from the hosts and list every step (by default --dry-run reads them, ' +
          'read-only, and lists only what is missing)',
      ),
    DRY_RUN_READS_FACTS,
  ).action(async (flags: SetupFlags) => {
    await setup(flags);
  });
}
