// `kubeadm2ha certs check|schedule|renew`: how long every certificate in the cluster has left, once (a durable
// workflow, exit 1 when any is under the threshold) or daily (a Temporal Schedule starting that workflow); and
// renewal of the external etcd members' certificates, one member at a time behind health gates.
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.js';
import {
  describeCertsPlan,
  formatCertTable,
  planCertificateCheck,
  type CertReport,
  type CertsInput,
} from '../../plan/certs.js';
import {
  describeEtcdRenewal,
  planEtcdRenewalRunbook,
  type EtcdRenewalReport,
  type RenewEtcdInput,
} from '../../plan/cert-renewal.js';
import { workflowIdFor } from '../../workflows/ids.js';
import {
  DEFAULT_EVERY,
  deleteCertsSchedule,
  describeCertsSchedule,
  ensureCertsSchedule,
  formatCertsSchedule,
} from '../certs-schedule.js';
import { addOperationOptions, addRunbookOptions, onFailureFlag, operationContext } from '../context.js';
import { describeRunbook } from '../../plan/runbook.js';
import {
  addInventoryOption,
  loadInventoryFile,
  runInventoryOperation,
  type InventoryFlags,
} from '../inventory-operation.js';

interface CertsFlags extends InventoryFlags {
  thresholdDays: string;
}

interface ScheduleFlags extends CertsFlags {
  every: string;
  delete?: boolean;
  show?: boolean;
}

function thresholdOf(flags: { thresholdDays: string }): number {
  const n = Number(flags.thresholdDays);
  if (!/^\d+$/.test(flags.thresholdDays)) {
    throw new InvalidInputError(
      `--threshold-days must be a whole number of days, got ${JSON.stringify(flags.thresholdDays)}`,
    );
  }
  return n;
}

export function check(flags: CertsFlags): Promise<CertReport | undefined> {
  return runInventoryOperation<CertsFlags, CertsInput, CertReport>(flags, {
    workflowType: 'checkCertificates',
    operation: 'certs',
    command: 'certs check',
    input: (inventory) => ({ inventory, thresholdDays: thresholdOf(flags) }),
    dryRun: (input) => {
      // The same plan the workflow runs.
      const plan = planCertificateCheck(input);
      return { json: plan, lines: describeCertsPlan(plan) };
    },
    report: formatCertTable,
    failed: (report) => !report.ok,
  });
}

interface RenewFlags extends InventoryFlags {
  etcd?: boolean;
  healthTimeout: string;
  onFailure?: string;
}

/** Renewal has its own id under the cluster's certs: a `certs check` never attaches to a renewal, nor the reverse. */
export const renewWorkflowId = (cluster: string): string => `${workflowIdFor(cluster, 'certs')}/renew-etcd`;

export function renew(flags: RenewFlags): Promise<EtcdRenewalReport | undefined> {
  if (!flags.etcd) {
    throw new InvalidInputError(
      'say what to renew: --etcd (the external etcd members); kubeadm renews the control plane with `kubeadm certs renew`',
    );
  }
  const healthTimeoutSeconds = Number(flags.healthTimeout);
  if (!Number.isInteger(healthTimeoutSeconds) || healthTimeoutSeconds <= 0) {
    throw new InvalidInputError(`--health-timeout must be a positive number of seconds, got ${flags.healthTimeout}`);
  }
  return runInventoryOperation<RenewFlags, RenewEtcdInput, EtcdRenewalReport>(flags, {
    workflowType: 'renewEtcdCertificates',
    operation: 'certs',
    command: 'certs renew --etcd',
    workflowId: renewWorkflowId,
    input: (inventory) => ({ inventory, healthTimeoutSeconds, onFailure: onFailureFlag(flags.onFailure) }),
    dryRun: (input) => {
      // The very runbook the workflow executes.
      const { plan, runbook } = planEtcdRenewalRunbook(input);
      return { json: runbook, lines: [...describeEtcdRenewal(plan), ...describeRunbook(runbook)] };
    },
    report: (report) => [
      ...report.members.map(
        (m) =>
          `${m.host}: renewed ${m.renewed.length} (${m.renewed.map((r) => r.path).join(', ')}), etcd ${m.restart}, healthy at ${m.healthyAt}`,
      ),
      `${report.cluster}: etcd member certificates renewed, CA ${report.caFingerprint.slice(0, 16)}…`,
    ],
  });
}

export async function schedule(flags: ScheduleFlags): Promise<void> {
  const inventory = await loadInventoryFile(flags.inventory);
  const cluster = inventory.cluster.name;
  if (flags.delete && flags.show) throw new InvalidInputError('--delete and --show exclude each other');
  const { ctx, close } = await operationContext(flags);
  try {
    if (flags.delete) {
      const deleted = await deleteCertsSchedule(ctx.client, cluster);
      console.log(
        deleted
          ? `deleted the certificate check schedule of ${cluster}`
          : `${cluster} has no certificate check schedule`,
      );
      return;
    }
    if (!flags.show) {
      const { created } = await ensureCertsSchedule(ctx.client, {
        inventory,
        every: flags.every,
        thresholdDays: thresholdOf(flags),
        taskQueue: ctx.taskQueue ?? 'kubeadm2ha',
      });
      ctx.out.write(
        `${created ? 'created' : 'updated'} the certificate check schedule of ${cluster}; ` +
          `scheduled runs need a worker polling task queue ${ctx.taskQueue} (\`kubeadm2ha worker\`)\n`,
      );
    }
    const view = await describeCertsSchedule(ctx.client, cluster);
    if (flags.json) console.log(JSON.stringify(view ?? null, null, 2));
    else if (!view)
      console.log(`${cluster} has no certificate check schedule (create one with \`kubeadm2ha certs schedule -i …\`)`);
    else for (const line of formatCertsSchedule(view)) console.log(line);
  } finally {
    await close();
  }
}

export function register(program: Command): void {
  const certs = program.command('certs').description('certificate expiry: check now, check on a schedule, renew');

  addOperationOptions(
    addInventoryOption(
      certs
        .command('check')
        .description('read every certificate on every host; exit 1 when any expires within the threshold'),
    )
      .option('--threshold-days <n>', 'report certificates with fewer days left than this', '30')
      .option('--dry-run', 'print which hosts and paths would be read, contact nothing'),
  ).action(async (flags: CertsFlags) => {
    await check(flags);
  });

  addOperationOptions(
    addInventoryOption(
      certs
        .command('schedule')
        .description('check certificates on a Temporal Schedule (created or updated; one per cluster)'),
    )
      .option('--every <interval>', 'how often: 30m, 24h, 7d', DEFAULT_EVERY)
      .option('--threshold-days <n>', 'report certificates with fewer days left than this', '30')
      .option('--show', 'show the schedule, its next run times and the recent runs; change nothing')
      .option('--delete', 'delete the schedule'),
  ).action(async (flags: ScheduleFlags) => {
    await schedule(flags);
  });

  addOperationOptions(
    addRunbookOptions(
      addInventoryOption(
        certs
          .command('renew')
          .description('renew certificates with the cluster healthy throughout; --etcd: one etcd member at a time'),
      )
        .option('--etcd', "renew the external etcd members' server, peer and healthcheck-client certificates")
        .option('--health-timeout <seconds>', 'how long each health gate waits for all members', '120'),
    ),
  ).action(async (flags: RenewFlags) => {
    await renew(flags);
  });
}
