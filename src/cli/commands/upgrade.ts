// `kubeadm2ha upgrade plan -i <inventory> --to <version>`: each node's state, the skew policy's verdict, `kubeadm
// upgrade plan` on the primary, and per node what will change — the planner the workflow runs, on facts read now.
// `kubeadm2ha upgrade -i <inventory> --to <version> [--batch N|N%] [--approve-each] [--yes] [--dry-run]`: the
// upgrade as a durable workflow. `kubeadm2ha upgrade resume -i <inventory>`: the last upgrade again, with its
// options: attached when it still runs, else a new run that reads the nodes and continues at the first one not at
// the target.
import type { Command } from 'commander';
import { createNodeUpgradeActivities, type UpgradeFacts } from '../../activities/node-upgrade.js';
import { createSshDeps } from '../../activities/ssh-deps.js';
import { sshTrustOf } from '../../activities/ssh-trust.js';
import { createUpgradeImageActivities } from '../../activities/upgrade-images.js';
import { InvalidInputError } from '../../errors.js';
import type { Inventory } from '../../inventory/schema.js';
import { stampOf } from '../../plan/etcd-restore.js';
import { describeRunbook } from '../../plan/runbook.js';
import { nodes, primaryMaster, targetOf } from '../../plan/topology.js';
import { describeUpgrade, planUpgrade, type UpgradePlan } from '../../plan/upgrade.js';
import { upgradeImageNeeds } from '../../plan/upgrade-images.js';
import type { BatchSize } from '../../plan/upgrade-policy.js';
import { workflowIdFor } from '../../workflows/ids.js';
import type { UpgradeClusterInput, UpgradeResult } from '../../workflows/upgrade.js';
import { addOperationOptions, onFailureFlag, operationContext } from '../context.js';
import { loadInventoryFile, runInventoryOperation, type InventoryFlags } from '../inventory-operation.js';
import { runningInput } from '../running-input.js';

interface PlanFlags {
  inventory: string;
  to: string;
  batch?: string;
  json?: boolean;
}

interface UpgradeFlags extends InventoryFlags {
  to?: string;
  batch?: string;
  approveEach?: boolean;
  yes?: boolean;
  dryRun?: boolean;
  drainTimeout?: string;
  onFailure?: string;
}

export function parseBatch(v: string | undefined): BatchSize | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(%?)$/.exec(v.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!m || n < 1 || (m[2] && n > 100))
    throw new InvalidInputError(`--batch must be a count (e.g. 2) or a percentage (e.g. 25%), not ${v}`);
  return m[2] ? { percent: n } : { count: n };
}

function version(v: string | undefined): string {
  const t = (v ?? '').replace(/^v/, '');
  if (!/^\d+\.\d+\.\d+$/.test(t))
    throw new InvalidInputError(`--to must be a Kubernetes version like 1.34.12, not ${v}`);
  return t;
}

/** The facts, read from here over SSH (no Temporal): the same activities the workflow runs first. */
async function readFactsHere(inv: Inventory, target: string, kubeadmPlan: boolean): Promise<UpgradeFacts> {
  const deps = createSshDeps(sshTrustOf(inv));
  try {
    const ctx = (h: (typeof inv.hosts)[number]) => ({ target: targetOf(h), ssh: inv.ssh });
    const needs = upgradeImageNeeds(inv, target);
    const [facts, images] = await Promise.all([
      createNodeUpgradeActivities(deps).readUpgradeFacts({
        hosts: nodes(inv).map(ctx),
        primary: ctx(primaryMaster(inv)),
        target,
        kubeadmPlan,
      }),
      'unchecked' in needs
        ? { images: [], unchecked: needs.unchecked }
        : createUpgradeImageActivities(deps).readUpgradeImages(needs.input),
    ]);
    return { ...facts, images };
  } finally {
    await deps.close();
  }
}

export async function upgradePlan(flags: PlanFlags): Promise<UpgradePlan> {
  const inv = await loadInventoryFile(flags.inventory);
  const target = version(flags.to);
  const facts = await readFactsHere(inv, target, true);
  const batch = parseBatch(flags.batch);
  const plan = planUpgrade(inv, facts, { target, stamp: stampOf(new Date()), ...(batch && { workerBatch: batch }) });
  if (flags.json) console.log(JSON.stringify({ ...plan, facts }, null, 2));
  else {
    for (const line of describeUpgrade(plan)) console.log(line);
    if (facts.kubeadmPlan) {
      console.log(`kubeadm upgrade plan v${target} on ${primaryMaster(inv).name} (its last lines):`);
      for (const line of facts.kubeadmPlan.split('\n')) console.log(`  | ${line}`);
    }
  }
  if (!plan.policy.allowed) process.exitCode = 1;
  return plan;
}

function inputOf(inv: Inventory, flags: UpgradeFlags): UpgradeClusterInput {
  const batch = parseBatch(flags.batch);
  const drain = flags.drainTimeout === undefined ? undefined : Number(flags.drainTimeout);
  if (drain !== undefined && (!Number.isInteger(drain) || drain <= 0))
    throw new InvalidInputError('--drain-timeout must be a positive number of seconds');
  return {
    inventory: inv,
    target: version(flags.to),
    ...(batch && { workerBatch: batch }),
    ...(flags.approveEach && { approveEach: true }),
    ...(flags.yes && { approved: true }),
    ...(drain && { drainTimeoutSeconds: drain }),
    onFailure: onFailureFlag(flags.onFailure),
  };
}

/** The run: the command skeleton (start or attach, a worker, progress, report) with this input. */
function run(flags: UpgradeFlags, input: (inv: Inventory) => UpgradeClusterInput): Promise<UpgradeResult | undefined> {
  return runInventoryOperation<UpgradeFlags, UpgradeClusterInput, UpgradeResult>(
    { ...flags, dryRun: false },
    {
      workflowType: 'upgradeCluster',
      operation: 'upgrade',
      command: 'upgrade',
      about: (input) => `to ${input.target}`,
      input,
      report: (r, inv) => [
        `cluster ${inv.cluster.name} upgraded to ${r.target}: ${r.steps.length} steps done`,
        ...r.after.map(
          (n) =>
            `  ${n.name}: kubelet ${n.kubelet ?? '?'}, kubeadm ${n.kubeadm ?? '?'}` +
            `${n.apiserver ? `, apiserver ${n.apiserver}` : ''}${n.ready ? ', Ready' : ''}${n.cordoned ? ', cordoned' : ''}`,
        ),
        ...(r.skipped.length ? [`skipped by decision: ${r.skipped.join(', ')}`] : []),
        ...(r.rolledBack?.length ? [`rolled back by decision: ${r.rolledBack.join(', ')}`] : []),
      ],
    },
  );
}

export async function upgrade(flags: UpgradeFlags): Promise<UpgradeResult | undefined> {
  const inv = await loadInventoryFile(flags.inventory);
  const input = inputOf(inv, flags);
  if (flags.dryRun) {
    // The facts are read (SSH, read-only) because the runbook depends on them; Temporal is not contacted.
    const facts = await readFactsHere(inv, input.target, false);
    const plan = planUpgrade(inv, facts, { ...input, stamp: stampOf(new Date()) });
    if (flags.json) console.log(JSON.stringify(plan.runbook, null, 2));
    else for (const line of [...describeUpgrade(plan), ...describeRunbook(plan.runbook)]) console.log(line);
    if (!plan.policy.allowed) process.exitCode = 1;
    return undefined;
  }
  return run(flags, () => input);
}

/** The last upgrade's input (target, batches, approvals) with today's inventory. */
export async function upgradeResume(flags: UpgradeFlags): Promise<UpgradeResult | undefined> {
  const inv = await loadInventoryFile(flags.inventory);
  const { ctx, close } = await operationContext(flags);
  let last: UpgradeClusterInput;
  try {
    const id = workflowIdFor(inv.cluster.name, 'upgrade');
    const desc = await ctx.client.workflow
      .getHandle(id)
      .describe()
      .catch(() => undefined);
    // Setup, upgrade and uninstall share this id (src/workflows/ids.ts): the last run under it may be another one.
    if (desc?.type !== 'upgradeCluster')
      throw new InvalidInputError(`no upgrade of ${inv.cluster.name} to resume (the last run of ${id} is not one)`);
    last = (await runningInput(ctx.client, id, desc.runId)) as UpgradeClusterInput;
  } finally {
    await close();
  }
  return run(flags, (inventory) => ({ ...last, inventory }));
}

export function register(program: Command): void {
  const up = addOperationOptions(
    program
      .command('upgrade')
      .description('upgrade the cluster to a Kubernetes version: masters one by one, workers in batches')
      .requiredOption('-i, --inventory <file>', 'inventory: our YAML, or an Ansible INI inventory with group_vars')
      .option('--to <version>', 'target Kubernetes version, e.g. 1.34.12')
      .option('--batch <n|n%>', 'workers upgraded at a time: a count or a percentage (at least one)', '1')
      .option('--approve-each', 'wait for `kubeadm2ha approve` before every node')
      .option('-y, --yes', 'no approval before the first change (the snapshot and backups still come first)')
      .option('--drain-timeout <seconds>', 'how long a drain may take before the run asks', '300')
      .option('--dry-run', 'read the nodes and print the runbook the workflow would run; change nothing')
      .option(
        '--on-failure <mode>',
        'a step that fails for good: decide (wait for `kubeadm2ha decide`) or abort',
        'decide',
      ),
  ).action(async (flags: UpgradeFlags) => {
    await upgrade(flags);
  });
  // `upgrade plan -i …`: the parent knows -i too and takes it; the subcommands read it from there.
  const withInventory = <F extends { inventory?: string }>(cmd: Command): F => {
    const all = cmd.optsWithGlobals<F>();
    if (!all.inventory) throw new InvalidInputError("required option '-i, --inventory <file>' not specified");
    return all;
  };
  up.command('plan')
    .description("read every node, check the skew policy and the target's packages, print what will change")
    .option('-i, --inventory <file>', 'inventory')
    .option('--to <version>', 'target Kubernetes version, e.g. 1.34.12')
    .option('--batch <n|n%>', 'workers upgraded at a time', '1')
    .option('--json', 'print the plan, the runbook and the facts as JSON')
    .action(async (_flags: PlanFlags, cmd: Command) => {
      await upgradePlan(withInventory<PlanFlags>(cmd));
    });
  addOperationOptions(
    up
      .command('resume')
      .description('continue the last upgrade: attach if it runs, else start again at the first node not upgraded')
      .option('-i, --inventory <file>', 'inventory'),
  ).action(async (_flags: UpgradeFlags, cmd: Command) => {
    await upgradeResume(withInventory<UpgradeFlags>(cmd));
  });
}
