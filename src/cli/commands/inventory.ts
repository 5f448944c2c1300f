// `kubeadm2ha inventory validate|convert`: check an inventory (our YAML or the seed's Ansible INI + group_vars)
// without contacting any host, and turn a seed inventory into our YAML. Invalid input throws InventoryError,
// which the CLI maps to exit code 2 after printing every problem as file:line:col field: message.
import { access, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.js';
import {
  formatWarning,
  InventoryError,
  readInventorySource,
  toYaml,
  validateSource,
  type InventoryWarning,
} from '../../inventory/index.js';
import type { Inventory, Role } from '../../inventory/schema.js';

interface ValidateFlags {
  inventory: string;
  json?: boolean;
}

interface ConvertFlags {
  inventory: string;
  output?: string;
  force?: boolean;
}

const roleOrder: Role[] = ['primary-master', 'secondary-master', 'etcd', 'worker', 'logs-hot', 'logs-warm'];

export function summarize(inv: Inventory, format: string, files: string[], warnings: InventoryWarning[]): string {
  const c = inv.cluster;
  const lb =
    c.loadBalancer.kind === 'none'
      ? 'no load balancer (apiserver on :6443)'
      : `${c.loadBalancer.kind} on :${c.loadBalancer.port}`;
  const etcd = c.etcd.mode === 'stacked' ? 'etcd stacked on the masters' : `etcd external ${c.etcd.version}`;
  const lines = [
    `${files[0] ?? ''}: valid (${format === 'ansible' ? `Ansible inventory${files.length > 1 ? ` + ${files.length - 1} vars file(s)` : ''}` : 'kubeadm2ha YAML'})`,
    `cluster   ${c.name}, Kubernetes ${c.kubernetesVersion}, pods ${c.podSubnet}, services ${c.serviceSubnet}, ${
      c.network.plugin === 'manifest' ? `network from ${c.network.manifest ?? '?'}` : `network ${c.network.plugin}`
    }`,
    `control   VIP ${c.vip.address}/${c.vip.prefixLength} on ${c.vip.interface}, ${lb}, ${etcd}`,
    `ssh       ${inv.ssh.user}@…:${inv.ssh.port}, host keys ${inv.ssh.hostKeyPolicy}${inv.ssh.sudo ? ', sudo' : ''}`,
    `hosts     ${inv.hosts.length}`,
  ];
  for (const role of roleOrder) {
    const hs = inv.hosts.filter((h) => h.roles.includes(role));
    if (hs.length) lines.push(`  ${role.padEnd(17)}${hs.map((h) => `${h.name} (${h.address})`).join(', ')}`);
  }
  lines.push(`warnings  ${warnings.length}`, ...warnings.map((w) => `  ${formatWarning(w)}`));
  return lines.join('\n');
}

export async function validate(flags: ValidateFlags): Promise<Inventory> {
  const src = await readInventorySource(flags.inventory);
  const { inventory, issues, warnings } = validateSource(src);
  if (flags.json) {
    const out = inventory
      ? { valid: true, format: src.format, sourceFiles: src.sourceFiles, inventory, warnings }
      : { valid: false, format: src.format, sourceFiles: src.sourceFiles, issues, warnings };
    console.log(JSON.stringify(out, null, 2));
  }
  if (!inventory) {
    if (!flags.json) for (const w of warnings) process.stderr.write(`warning: ${formatWarning(w)}\n`);
    // With --json the problems are on stdout already; the error still sets exit code 2.
    throw new InventoryError(issues, warnings);
  }
  if (!flags.json) console.log(summarize(inventory, src.format, src.sourceFiles, warnings));
  return inventory;
}

export async function convert(flags: ConvertFlags): Promise<string> {
  const src = await readInventorySource(flags.inventory);
  if (src.format !== 'ansible')
    throw new InvalidInputError(`${src.file} is kubeadm2ha YAML already; convert reads an Ansible INI inventory`);
  const { inventory, issues, warnings } = validateSource(src);
  // Refuse to write a file that would not load: fix the INI (or group_vars) first, at the places listed.
  if (!inventory) throw new InventoryError(issues, warnings);
  const text = toYaml(src.value, { from: src.sourceFiles, warnings });
  for (const w of warnings) process.stderr.write(`warning: ${formatWarning(w)}\n`);
  if (!flags.output) {
    process.stdout.write(text);
    return text;
  }
  const exists = await access(flags.output).then(
    () => true,
    () => false,
  );
  if (exists && !flags.force) throw new InvalidInputError(`${flags.output} exists; pass --force to overwrite it`);
  await writeFile(flags.output, text);
  process.stderr.write(`wrote ${flags.output} (${inventory.hosts.length} hosts, cluster ${inventory.cluster.name})\n`);
  return text;
}

export function register(program: Command): void {
  const inventory = program
    .command('inventory')
    .description('check or convert an inventory without contacting any host');
  inventory
    .command('validate')
    .description('check an inventory (kubeadm2ha YAML, or an Ansible INI inventory with group_vars) and summarize it')
    .requiredOption('-i, --inventory <path>', 'inventory file, or a directory holding hosts/inventory')
    .option('--json', 'print the result (inventory or every issue) as JSON')
    .action(async (flags: ValidateFlags) => {
      await validate(flags);
    });
  inventory
    .command('convert')
    .description("turn the Ansible playbooks' INI inventory (+ group_vars) into kubeadm2ha YAML")
    .requiredOption('-i, --inventory <path>', 'Ansible INI inventory file, or its directory')
    .option('-o, --output <file>', 'write here instead of stdout')
    .option('--force', 'overwrite the output file')
    .action(async (flags: ConvertFlags) => {
      await convert(flags);
    });
}
