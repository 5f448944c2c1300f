// `kubeadm2ha addons list|apply|remove` and `kubeadm2ha dashboard token`. apply and remove are durable workflows
// (manageAddon, the addon runbook on the runbook executor); list is offline (the catalogue, and with -i the images
// under that inventory's imageRepository); the token never goes through a workflow (its history would keep it).
import type { Command } from 'commander';
import { adminUserToken } from '../../activities/addons-token.js';
import { createSshDeps } from '../../activities/ssh-deps.js';
import { sshTrustOf } from '../../activities/ssh-trust.js';
import { InvalidInputError } from '../../errors.js';
import { AddonPlanError, planAddon, type AddonAction } from '../../plan/addons.js';
import { describeRunbook } from '../../plan/runbook.js';
import { ADDONS } from '../../templates/addons/index.js';
import { imageRef } from '../../templates/addons/types.js';
import type { ManageAddonInput } from '../../workflows/addons.js';
import type { RunbookResult } from '../../workflows/runbook.js';
import { addOperationOptions, addRunbookOptions, onFailureFlag } from '../context.js';
import {
  addInventoryOption,
  loadInventoryFile,
  runInventoryOperation,
  type InventoryFlags,
} from '../inventory-operation.js';

interface ListFlags {
  inventory?: string;
  json?: boolean;
}

export async function addonsList(flags: ListFlags): Promise<void> {
  const repo = flags.inventory ? (await loadInventoryFile(flags.inventory)).cluster.imageRepository : undefined;
  const rows = ADDONS.map((a) => ({
    name: a.name,
    version: a.version,
    status: a.status,
    description: a.description,
    replaces: a.replaces,
    ...(a.retiredBecause && { retiredBecause: a.retiredBecause }),
    images: a.images.map((i) => (repo ? imageRef(repo, i) : i.upstream)),
  }));
  if (flags.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  for (const r of rows) {
    console.log(`${r.name.padEnd(14)} ${r.version.padEnd(8)} ${r.status.padEnd(8)} ${r.description}`);
    console.log(`${' '.repeat(15)}replaces ${r.replaces}`);
    if (r.retiredBecause) console.log(`${' '.repeat(15)}retired: ${r.retiredBecause}`);
    for (const i of r.images) console.log(`${' '.repeat(15)}image ${i}`);
  }
}

interface ManageFlags extends InventoryFlags {
  onFailure?: string;
  wait?: boolean;
  timeout?: string;
  deleteData?: boolean;
}

function seconds(flag: string, what: string): number {
  const s = Number(flag);
  if (!Number.isInteger(s) || s <= 0) throw new InvalidInputError(`${what} must be a positive number of seconds`);
  return s;
}

function plan(input: ManageAddonInput) {
  try {
    return planAddon(input.inventory, input.addon, input.action, input);
  } catch (err) {
    // Unknown, or retired (with the reason): refused before anything is contacted.
    if (err instanceof AddonPlanError) throw new InvalidInputError(err.message);
    throw err;
  }
}

export function manageAddon(name: string, action: AddonAction, flags: ManageFlags): Promise<RunbookResult | undefined> {
  return runInventoryOperation<ManageFlags, ManageAddonInput, RunbookResult>(flags, {
    workflowType: 'manageAddon',
    operation: 'addons',
    command: `addons ${action} ${name}`,
    input: (inventory, f) => {
      const input: ManageAddonInput = {
        inventory,
        addon: name,
        action,
        onFailure: onFailureFlag(f.onFailure),
        ...(f.wait === false && { wait: false }),
        ...(f.timeout !== undefined && { timeoutSeconds: seconds(f.timeout, '--timeout') }),
        ...(f.deleteData === true && { deleteData: true }),
      };
      plan(input);
      return input;
    },
    dryRun: (input) => {
      const runbook = plan(input);
      return { json: runbook, lines: describeRunbook(runbook) };
    },
    report: (result) => [`addon ${name}: ${action} done (${result.steps.length} steps)`],
  });
}

interface TokenFlags {
  inventory: string;
  duration: string;
}

/** Prints a fresh admin-user token on stdout and nothing else (for `$(kubeadm2ha dashboard token -i …)`). */
export async function dashboardToken(flags: TokenFlags): Promise<void> {
  const inventory = await loadInventoryFile(flags.inventory);
  const deps = createSshDeps(sshTrustOf(inventory));
  try {
    process.stdout.write(`${await adminUserToken(deps, inventory, seconds(flags.duration, '--duration'))}\n`);
  } finally {
    await deps.close();
  }
}

const INVENTORY_HELP = 'inventory: our YAML, or an Ansible INI inventory with group_vars';

export function register(program: Command): void {
  const addons = program.command('addons').description('cluster addons: list, apply (server-side), remove exactly');
  addons
    .command('list')
    .description('the addons, their versions, status (stable, alpha, retired) and images')
    .option('-i, --inventory <file>', `${INVENTORY_HELP}; images are then shown under its imageRepository`)
    .option('--json', 'print as JSON')
    .action(async (flags: ListFlags) => {
      await addonsList(flags);
    });
  for (const action of ['apply', 'remove'] as const) {
    const cmd = addInventoryOption(addons.command(`${action} <name>`))
      .description(
        action === 'apply'
          ? 'server-side apply of the addon (field manager kubeadm2ha), wait for its rollout, record what it created'
          : 'delete exactly what the addon recorded when it was applied',
      )
      .option('--timeout <seconds>', 'how long to wait for the rollout (apply) or the deletions (remove)', '300');
    if (action === 'apply') cmd.option('--no-wait', 'do not wait for the rollout');
    else cmd.option('--delete-data', "also delete the addon's stored data on the nodes (logging: the store's days)");
    addOperationOptions(addRunbookOptions(cmd)).action(async (name: string, flags: ManageFlags) => {
      await manageAddon(name, action, flags);
    });
  }
  const dashboard = program.command('dashboard').description('the dashboard addon (Headlamp)');
  addInventoryOption(
    dashboard
      .command('token')
      .description("print a short-lived token of the dashboard's admin-user (TokenRequest; never stored)"),
  )
    .option('--duration <seconds>', 'lifetime of the token', '3600')
    .action(async (flags: TokenFlags) => {
      await dashboardToken(flags);
    });
}
