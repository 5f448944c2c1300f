// `kubeadm2ha preflight -i <inventory>`: check every host before setup, as a durable workflow.
import type { Command } from 'commander';
import type { Inventory } from '../../inventory/schema.js';
import { planPreflight } from '../../plan/preflight.js';
import type { PreflightReport } from '../../plan/types.js';
import { addOperationOptions } from '../context.js';
import {
  addInventoryOption,
  runInventoryOperation,
  type InventoryFlags,
  type InventoryOperation,
} from '../inventory-operation.js';
import { formatPreflightReport } from '../report.js';

const preflightOperation: InventoryOperation<InventoryFlags, { inventory: Inventory }, PreflightReport> = {
  workflowType: 'preflightCluster',
  operation: 'preflight',
  command: 'preflight',
  input: (inventory) => ({ inventory }),
  dryRun: ({ inventory }) => {
    // The same plan the workflow runs.
    const plan = planPreflight(inventory);
    return {
      json: plan,
      lines: plan.hosts.map((h) => `${h.target.name} (${h.target.address}): ${h.steps.map((s) => s.id).join(', ')}`),
    };
  },
  report: (report) => [formatPreflightReport(report)],
  failed: (report) => !report.ok,
};

export function preflight(flags: InventoryFlags): Promise<PreflightReport | undefined> {
  return runInventoryOperation(flags, preflightOperation);
}

export function register(program: Command): void {
  addOperationOptions(
    addInventoryOption(
      program.command('preflight').description('check every host against the kubeadm prerequisites (read-only)'),
    ).option('--dry-run', 'print which checks would run on which host, contact nothing'),
  ).action(async (flags: InventoryFlags) => {
    await preflight(flags);
  });
}
