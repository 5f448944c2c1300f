// The one skeleton of an operation command: load the inventory (warnings to stderr), build the workflow input,
// plan, print the plan on --dry-run (contacting nothing), otherwise run the workflow through runOperation (start or
// attach, a worker, live progress) and report the result (--json: the result as data). Commands differ only in the
// pieces they hand in, so a new command (uninstall, upgrade, images, addons) is one `InventoryOperation` object:
//
//   const op: InventoryOperation<UninstallFlags, UninstallInput, UninstallReport> = {
//     workflowType: 'uninstallCluster', operation: 'uninstall', command: 'uninstall',
//     input: (inventory, flags) => ({ inventory, onFailure: onFailureFlag(flags.onFailure) }),
//     dryRun: (input) => { const runbook = planUninstall(input); return { json: runbook, lines: describeRunbook(runbook) }; },
//     report: (r) => [`cluster ${r.cluster} uninstalled`],
//   };
//   addOperationOptions(addInventoryOption(program.command('uninstall'))).action((f) => runInventoryOperation(f, op));
//
// API (all of it):
// - `loadInventoryFile(path)`: the inventory, its warnings printed (for commands that are not an operation).
// - `addInventoryOption(cmd)`: the shared `-i, --inventory <file>` option.
// - `InventoryOperation`: the pieces; `runInventoryOperation(flags, op)`: the skeleton.
import type { Command } from 'commander';
import { sshTrustOf } from '../activities/ssh-trust.js';
import { formatWarning, loadInventory } from '../inventory/index.js';
import type { Inventory } from '../inventory/schema.js';
import { workflowIdFor, type Operation } from '../workflows/ids.js';
import { operationContext, type OperationFlags } from './context.js';
import { runOperation } from './operation.js';

export interface InventoryFlags extends OperationFlags {
  inventory: string;
  dryRun?: boolean;
}

export interface InventoryOperation<F extends InventoryFlags, I, R> {
  /** Workflow type the worker registers (src/workflows/index.ts). */
  workflowType: string;
  /** The Operation search attribute, and the workflow id's suffix unless `workflowId` says otherwise. */
  operation: Operation;
  /** The command as the operator types it (`etcd restore`): the run's summary in the Web UI names it. */
  command: string;
  /** What tells one run of the command from another, from its input (`to 1.34.12`); never a secret. */
  about?: (input: I) => string | undefined;
  /** The run's id; default `workflowIdFor(cluster, operation)`. One id per cluster and operation is what attaches. */
  workflowId?: (cluster: string) => string;
  /** Flags and inventory → the workflow input. Throw InvalidInputError for bad flags; nothing has been contacted. */
  input: (inventory: Inventory, flags: F) => I;
  /**
   * The plan, built before anything runs (planning also validates). `json` is what `--dry-run --json` prints and
   * `lines` what `--dry-run` prints; both must come from the object the workflow executes. Without it the command
   * has no dry run.
   */
  dryRun?: (input: I, flags: F) => { json: unknown; lines: string[] };
  /** After the plan, before Temporal is contacted: e.g. a typed confirmation. */
  beforeRun?: (input: I, inventory: Inventory) => Promise<void>;
  /** The result in words (one string per line); --json prints the result itself. */
  report: (result: R, inventory: Inventory) => string[];
  /** A result that is a finding, not a success (preflight or certificate check failed): exit 1. */
  failed?: (result: R) => boolean;
}

/** The inventory at `path`, its warnings written to stderr. */
export async function loadInventoryFile(path: string): Promise<Inventory> {
  const { inventory, warnings } = await loadInventory(path);
  for (const w of warnings) process.stderr.write(`warning: ${formatWarning(w)}\n`);
  return inventory;
}

export function addInventoryOption(cmd: Command): Command {
  return cmd.requiredOption(
    '-i, --inventory <file>',
    'inventory: our YAML, or an Ansible INI inventory with group_vars',
  );
}

/** Load, plan, dry-run or run, report. Returns the result, or undefined for a dry run. */
export async function runInventoryOperation<F extends InventoryFlags, I, R>(
  flags: F,
  op: InventoryOperation<F, I, R>,
): Promise<R | undefined> {
  const inventory = await loadInventoryFile(flags.inventory);
  const input = op.input(inventory, flags);
  const plan = op.dryRun?.(input, flags);
  if (flags.dryRun && plan) {
    // Nothing is contacted, neither hosts nor Temporal.
    if (flags.json) console.log(JSON.stringify(plan.json, null, 2));
    else for (const line of plan.lines) console.log(line);
    return undefined;
  }
  await op.beforeRun?.(input, inventory);
  const cluster = inventory.cluster.name;
  const { ctx, close } = await operationContext(flags, sshTrustOf(inventory));
  try {
    const result = await runOperation<I, R>(ctx, {
      workflowType: op.workflowType,
      workflowId: op.workflowId?.(cluster) ?? workflowIdFor(cluster, op.operation),
      args: [input],
      cluster,
      operation: op.operation,
      command: op.command,
      about: op.about?.(input),
      kubernetesVersion: inventory.cluster.kubernetesVersion,
      hosts: inventory.hosts.map((h) => h.name),
    });
    if (flags.json) console.log(JSON.stringify(result, null, 2));
    else for (const line of op.report(result, inventory)) console.log(line);
    if (op.failed?.(result)) process.exitCode = 1;
    return result;
  } finally {
    await close();
  }
}
