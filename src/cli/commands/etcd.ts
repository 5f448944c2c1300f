// `kubeadm2ha etcd setup -i <inventory>`: the external etcd cluster with TLS, as a durable workflow.
import type { Command } from 'commander';
import { sshTrustOf } from '../../activities/ssh-trust.js';
import { InvalidInputError } from '../../errors.js';
import { formatWarning, loadInventory } from '../../inventory/index.js';
import { describeEtcdPlan, planEtcdSetup, type EtcdSetupReport } from '../../plan/etcd.js';
import { workflowIdFor } from '../../workflows/ids.js';
import type { SetupEtcdInput } from '../../workflows/etcd.js';
import { addOperationOptions, operationContext, type OperationFlags } from '../context.js';
import { runOperation } from '../operation.js';

interface EtcdSetupFlags extends OperationFlags {
  inventory: string;
  dryRun?: boolean;
  healthTimeout?: string;
}

export function formatEtcdReport(r: EtcdSetupReport): string {
  const lines = [
    `etcd ${r.version} for ${r.cluster}: ${r.members.length} member(s) healthy, cluster ${r.clusterId}`,
    `CA ${r.ca.commonName} sha256:${r.ca.sha256Fingerprint}${r.ca.created ? ' (new)' : ''}, valid until ${r.ca.notAfter}`,
  ];
  for (const h of r.hosts) {
    const member = r.members.find((m) => m.name === h.name);
    const parts = [
      member ? `member ${member.id}` : 'client only',
      h.certificatesIssued.length
        ? `issued ${h.certificatesIssued.map((c) => c.path.split('/').pop()).join(', ')}`
        : 'certificates kept',
      ...(h.installed ? ['etcd installed'] : []),
      ...(h.configChanged?.length ? ['config written'] : []),
      ...(h.service && h.service !== 'none' ? [h.service] : []),
    ];
    lines.push(`  ${h.name}: ${parts.join('; ')}`);
  }
  if (r.restartedByHealthGate.length)
    lines.push(`  started again after stopping: ${r.restartedByHealthGate.join(', ')}`);
  lines.push(r.changed ? 'changes applied' : 'nothing to change: etcd was already as planned');
  return lines.join('\n');
}

export async function etcdSetup(flags: EtcdSetupFlags): Promise<EtcdSetupReport | undefined> {
  const { inventory, warnings } = await loadInventory(flags.inventory);
  for (const w of warnings) process.stderr.write(`warning: ${formatWarning(w)}\n`);
  // Planning first also validates (stacked mode, no etcd hosts) before anything is started.
  const plan = planEtcdSetup(inventory);
  if (flags.dryRun) {
    // The same plan the workflow runs; nothing is contacted, neither hosts nor Temporal.
    if (flags.json) console.log(JSON.stringify(plan, null, 2));
    else for (const line of describeEtcdPlan(plan)) console.log(line);
    return undefined;
  }
  const input: SetupEtcdInput = { inventory };
  if (flags.healthTimeout !== undefined) {
    const s = Number(flags.healthTimeout);
    if (!Number.isInteger(s) || s <= 0)
      throw new InvalidInputError(`--health-timeout must be a positive number of seconds`);
    input.healthTimeoutSeconds = s;
  }
  const { ctx, close } = await operationContext(flags, sshTrustOf(inventory));
  try {
    const report = await runOperation<SetupEtcdInput, EtcdSetupReport>(ctx, {
      workflowType: 'setupEtcdCluster',
      workflowId: workflowIdFor(inventory.cluster.name, 'etcd'),
      args: [input],
      cluster: inventory.cluster.name,
      operation: 'etcd',
      kubernetesVersion: inventory.cluster.kubernetesVersion,
    });
    console.log(flags.json ? JSON.stringify(report, null, 2) : formatEtcdReport(report));
    return report;
  } finally {
    await close();
  }
}

export function register(program: Command): void {
  const etcd = program.command('etcd').description('the external etcd cluster');
  addOperationOptions(
    etcd
      .command('setup')
      .description('set up (or converge) the external etcd cluster with TLS on the etcd hosts')
      .requiredOption('-i, --inventory <file>', 'inventory: our YAML, or an Ansible INI inventory with group_vars')
      .option('--dry-run', 'print the plan (members, URLs, certificates per host), contact nothing')
      .option('--health-timeout <seconds>', 'how long the health gate waits for all members', '120'),
  ).action(async (flags: EtcdSetupFlags) => {
    await etcdSetup(flags);
  });
}
