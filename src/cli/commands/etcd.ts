// `kubeadm2ha etcd setup|snapshot|restore -i <inventory>`: the external etcd cluster with TLS, its snapshots into the
// operator's state dir, and disaster recovery from one; each a durable workflow.
import { basename, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.js';
import type { Inventory } from '../../inventory/schema.js';
import {
  describeEtcdPlan,
  etcdFactsRequest,
  planEtcdSetupRunbook,
  type EtcdSetupReport,
  type SetupEtcdInput,
} from '../../plan/etcd.js';
import { describeRunbook } from '../../plan/runbook.js';
import { workflowIdFor } from '../../workflows/ids.js';
import type { EtcdSnapshotResult } from '../../activities/etcd-snapshot.js';
import { describeEtcdRestorePlan, planEtcdRestore, planEtcdRestoreRunbook, stampOf } from '../../plan/etcd-restore.js';
import { planEtcdSnapshotRunbook } from '../../plan/etcd-snapshot.js';
import type { EtcdRestoreReport, RestoreEtcdInput, SnapshotEtcdInput } from '../../workflows/etcd-snapshot.js';
import { DRY_RUN_READS_FACTS, addOperationOptions, addRunbookOptions, onFailureFlag } from '../context.js';
import {
  addInventoryOption,
  loadInventoryFile,
  runInventoryOperation,
  type InventoryFlags,
} from '../inventory-operation.js';
import { readSetupFactsHere } from './setup.js';

interface EtcdSetupFlags extends InventoryFlags {
  healthTimeout?: string;
  onFailure?: string;
  replaceCa?: boolean;
  /** --yes: members the inventory no longer has are removed without `kubeadm2ha approve`. */
  yes?: boolean;
  /** false with --no-facts: plan every step, contact nothing. */
  facts?: boolean;
}

export function formatEtcdReport(r: EtcdSetupReport): string {
  if (r.stepsRun === 0 && r.ca === undefined) {
    // Planned from the facts: every host was done, nothing ran.
    return (
      `etcd ${r.version} for ${r.cluster}: ${r.hosts.length} host(s) already as planned ` +
      `(${r.hosts.map((h) => h.name).join(', ')})\nnothing to change: etcd was already as planned`
    );
  }
  const lines = [
    `etcd ${r.version} for ${r.cluster}: ${r.members.length} member(s) healthy, cluster ${r.clusterId ?? '?'}`,
    ...(r.ca
      ? [
          `CA ${r.ca.commonName} sha256:${r.ca.sha256Fingerprint}${r.ca.created ? ' (new)' : ''}, valid until ${r.ca.notAfter}`,
        ]
      : []),
  ];
  for (const h of r.hosts) {
    const member = r.members.find((m) => m.name === h.name);
    const parts = h.alreadyDone
      ? [member ? `member ${member.id}` : 'client only', 'already as planned']
      : [
          member ? `member ${member.id}` : 'client only',
          h.certificatesIssued.length
            ? `issued ${h.certificatesIssued.map((c) => c.path.split('/').pop()).join(', ')}`
            : 'certificates kept',
          ...(h.installed ? ['etcd installed'] : []),
          ...(h.configChanged?.length ? ['config written'] : []),
          ...(h.rejoined === 'replaced'
            ? ['lost its data: removed and added again']
            : h.rejoined === 'added'
              ? ['added to the cluster']
              : []),
          ...(h.service && h.service !== 'none' ? [h.service] : []),
        ];
    lines.push(`  ${h.name}: ${parts.join('; ')}`);
  }
  if (r.restartedByHealthGate.length)
    lines.push(`  started again after stopping: ${r.restartedByHealthGate.join(', ')}`);
  lines.push(r.changed ? 'changes applied' : 'nothing to change: etcd was already as planned');
  return lines.join('\n');
}

function healthTimeoutSeconds(flag: string): number {
  const s = Number(flag);
  if (!Number.isInteger(s) || s <= 0)
    throw new InvalidInputError(`--health-timeout must be a positive number of seconds`);
  return s;
}

function etcdSetupInput(inventory: Inventory, flags: EtcdSetupFlags): SetupEtcdInput {
  const input: SetupEtcdInput = {
    inventory,
    ...(flags.replaceCa && { replaceCa: true }),
    ...(flags.yes && { approveRemoval: true }),
  };
  if (flags.healthTimeout !== undefined) input.healthTimeoutSeconds = healthTimeoutSeconds(flags.healthTimeout);
  input.onFailure = onFailureFlag(flags.onFailure);
  return input;
}

export async function etcdSetup(flags: EtcdSetupFlags): Promise<EtcdSetupReport | undefined> {
  if (flags.dryRun) {
    // Reads the hosts' etcd facts over SSH (read-only, the activity the workflow runs first) and prints the runbook
    // the workflow would run now: only what is missing. Temporal is not contacted; with --no-facts (or
    // --replace-ca, which plans every step) nothing is.
    const inventory = await loadInventoryFile(flags.inventory);
    const input = etcdSetupInput(inventory, flags);
    const { plan } = planEtcdSetupRunbook(input); // validates before any host is contacted
    const facts =
      flags.facts === false || input.replaceCa
        ? undefined
        : await readSetupFactsHere(inventory, etcdFactsRequest(inventory));
    const { runbook } = planEtcdSetupRunbook(input, facts);
    if (flags.json) console.log(JSON.stringify(runbook, null, 2));
    else for (const line of [...describeEtcdPlan(plan), ...describeRunbook(runbook)]) console.log(line);
    return undefined;
  }
  return runInventoryOperation<EtcdSetupFlags, SetupEtcdInput, EtcdSetupReport>(flags, {
    workflowType: 'setupEtcdCluster',
    operation: 'etcd',
    command: 'etcd setup',
    about: (input) => (input.replaceCa ? '(replace CA)' : undefined),
    input: etcdSetupInput,
    // Planned here without facts only to refuse a bad inventory (stacked mode, no etcd hosts) before Temporal is
    // contacted; the workflow plans from the facts it reads.
    dryRun: (input) => {
      const { plan, runbook } = planEtcdSetupRunbook(input);
      return { json: runbook, lines: [...describeEtcdPlan(plan), ...describeRunbook(runbook)] };
    },
    report: (report) => [formatEtcdReport(report)],
  });
}

interface EtcdSnapshotFlags extends InventoryFlags {
  onFailure?: string;
}

export async function etcdSnapshot(flags: EtcdSnapshotFlags): Promise<EtcdSnapshotResult | undefined> {
  return runInventoryOperation<EtcdSnapshotFlags, SnapshotEtcdInput, EtcdSnapshotResult>(flags, {
    workflowType: 'snapshotEtcd',
    operation: 'etcd',
    command: 'etcd snapshot',
    workflowId: (cluster) => `${workflowIdFor(cluster, 'etcd')}/snapshot`,
    input: (inventory) => ({ inventory, onFailure: onFailureFlag(flags.onFailure) }),
    // Planning also validates (external etcd with members). The workflow stamps its own run; this plan shows the
    // same step with today's time.
    dryRun: (input) => {
      const runbook = planEtcdSnapshotRunbook(input.inventory, stampOf(new Date()), input.onFailure);
      return { json: runbook, lines: describeRunbook(runbook) };
    },
    report: (r) => [
      `snapshot of ${r.member}: ${r.path}\n  ${r.size} bytes, revision ${r.revision}, ${r.totalKeys} keys, ` +
        `sha256 ${r.sha256} (verified on the host by ${r.tool} and here after the transfer)`,
    ],
  });
}

interface EtcdRestoreFlags extends InventoryFlags {
  snapshot: string;
  sha256?: string;
  yes?: boolean;
  healthTimeout?: string;
  onFailure?: string;
}

/** A restore stops the whole etcd cluster and rewinds it: a person confirms by typing the cluster's name. */
async function confirm(cluster: string): Promise<void> {
  if (!process.stdin.isTTY) {
    throw new InvalidInputError('a restore stops every etcd member and rewinds the cluster: pass --yes to confirm');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `This stops etcd of ${cluster} and restores the snapshot. Type the cluster name to go on: `,
    );
    if (answer.trim() !== cluster) throw new InvalidInputError('not confirmed: nothing was changed');
  } finally {
    rl.close();
  }
}

export function etcdRestore(flags: EtcdRestoreFlags): Promise<EtcdRestoreReport | undefined> {
  const path = resolve(flags.snapshot);
  if (flags.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(flags.sha256)) {
    throw new InvalidInputError('--sha256 must be 64 hex digits');
  }
  return runInventoryOperation<EtcdRestoreFlags, RestoreEtcdInput, EtcdRestoreReport>(flags, {
    workflowType: 'restoreEtcdSnapshot',
    operation: 'etcd',
    command: 'etcd restore',
    // Which snapshot: its file name (the directory is this machine's, the name says which save it was).
    about: (input) => `from ${basename(input.snapshot.path)}`,
    workflowId: (cluster) => `${workflowIdFor(cluster, 'etcd')}/restore`,
    input: (inventory) => {
      const input: RestoreEtcdInput = {
        inventory,
        snapshot: { path, ...(flags.sha256 !== undefined && { sha256: flags.sha256.toLowerCase() }) },
      };
      if (flags.healthTimeout !== undefined) input.healthTimeoutSeconds = healthTimeoutSeconds(flags.healthTimeout);
      input.onFailure = onFailureFlag(flags.onFailure);
      return input;
    },
    dryRun: (input) => {
      // The workflow stamps its own run; this plan shows the same steps with today's time.
      const plan = planEtcdRestore(input.inventory, stampOf(new Date()));
      const runbook = planEtcdRestoreRunbook(input.inventory, plan, {
        snapshot: input.snapshot,
        healthTimeoutSeconds: input.healthTimeoutSeconds ?? 120,
        onFailure: input.onFailure,
      });
      return { json: runbook, lines: [...describeEtcdRestorePlan(plan, path), ...describeRunbook(runbook)] };
    },
    beforeRun: async (_input, inventory) => {
      if (!flags.yes) await confirm(inventory.cluster.name);
    },
    report: (r) => [
      `etcd of ${r.cluster} restored from ${r.snapshot.path}: cluster ${r.previousClusterId || '(was down)'} -> ${r.clusterId}`,
      ...r.hosts.map(
        (h) => `  ${h.host}: restored with ${h.tool} in ${h.ms} ms; previous data in ${h.previousDataDir}`,
      ),
    ],
  });
}

export function register(program: Command): void {
  const etcd = program.command('etcd').description('the external etcd cluster');
  addOperationOptions(
    addRunbookOptions(
      addInventoryOption(
        etcd.command('setup').description('set up (or converge) the external etcd cluster with TLS on the etcd hosts'),
      )
        .option('--health-timeout <seconds>', 'how long the health gate waits for all members', '120')
        .option(
          '--replace-ca',
          "give the cluster this worker's etcd CA (or a new one) even though its hosts trust another; re-issues every member's certificates",
        )
        .option(
          '-y, --yes',
          'remove members the inventory no longer has without waiting for `kubeadm2ha approve` (scale-in)',
        )
        .option(
          '--no-facts',
          'with --dry-run: read nothing from the hosts and list every step (by default --dry-run reads them, ' +
            'read-only, and lists only what is missing)',
        ),
      DRY_RUN_READS_FACTS,
    ),
  ).action(async (flags: EtcdSetupFlags) => {
    await etcdSetup(flags);
  });
  addOperationOptions(
    addRunbookOptions(
      addInventoryOption(
        etcd
          .command('snapshot')
          .description("save a snapshot on a healthy member into the operator's state dir, checksum verified"),
      ),
    ),
  ).action(async (flags: EtcdSnapshotFlags) => {
    await etcdSnapshot(flags);
  });
  addOperationOptions(
    addInventoryOption(
      etcd
        .command('restore')
        .description(
          'stop every member, keep its data dir, restore the snapshot into a new cluster, start, health gate',
        ),
    )
      .requiredOption('--snapshot <file>', 'snapshot file on this machine (from `etcd snapshot`)')
      .option('--sha256 <hex>', 'expected checksum (default: the .sha256 file beside the snapshot)')
      .option('--yes', 'do not ask for confirmation')
      .option(
        '--dry-run',
        'print the plan and the runbook (--json: the runbook the workflow executes), contact nothing',
      )
      .option('--health-timeout <seconds>', 'how long the health gate waits for all members', '120')
      .option(
        '--on-failure <mode>',
        'a step that fails for good: decide (wait for `kubeadm2ha decide`) or abort',
        'decide',
      ),
  ).action(async (flags: EtcdRestoreFlags) => {
    await etcdRestore(flags);
  });
}
