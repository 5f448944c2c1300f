// `kubeadm2ha images list -i <inventory> [--version V] [--json]`: every image the cluster needs for a Kubernetes
// version, computed here from the inventory (no host, no registry contacted), with where each is needed.
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.js';
import { UnknownKubernetesMinorError } from '../../images/kubeadm-images.js';
import { formatWarning, loadInventory } from '../../inventory/index.js';
import { KubernetesVersion, type Inventory } from '../../inventory/schema.js';
import { imagesFor, planImageList, type ImageNeed } from '../../plan/images.js';

interface ListFlags {
  inventory: string;
  version?: string;
  json?: boolean;
}

/** --version, checked like the inventory's kubernetesVersion; default the inventory's. */
export function versionFlag(inv: Inventory, flag: string | undefined): string {
  if (flag === undefined) return inv.cluster.kubernetesVersion;
  const v = KubernetesVersion.safeParse(flag);
  if (!v.success) throw new InvalidInputError(`--version: ${v.error.issues[0]?.message ?? 'invalid'}`);
  return v.data;
}

/** The list, or an InvalidInputError (exit 2) for a version kubeadm2ha has no table for. */
export function imageListOf(inv: Inventory, version: string): ImageNeed[] {
  try {
    return planImageList(inv, version);
  } catch (err) {
    if (err instanceof UnknownKubernetesMinorError) throw new InvalidInputError(err.message);
    throw err;
  }
}

export async function imagesList(flags: ListFlags): Promise<ImageNeed[]> {
  const { inventory, warnings } = await loadInventory(flags.inventory);
  for (const w of warnings) process.stderr.write(`warning: ${formatWarning(w)}\n`);
  const version = versionFlag(inventory, flags.version);
  const list = imageListOf(inventory, version);
  if (flags.json) {
    const hosts = Object.fromEntries(inventory.hosts.map((h) => [h.name, imagesFor(h, list)]));
    console.log(JSON.stringify({ cluster: inventory.cluster.name, version, images: list, hosts }, null, 2));
  } else {
    const width = Math.max(...list.map((i) => i.ref.length));
    for (const i of list) console.log(`${i.ref.padEnd(width)}  ${i.on.padEnd(7)}  ${i.source}`);
  }
  return list;
}

export function register(program: Command): void {
  const images = program.command('images').description('the images a cluster needs: list them, deliver them to hosts');
  images
    .command('list')
    .description('every image the cluster needs for a Kubernetes version (contacts nothing)')
    .requiredOption('-i, --inventory <file>', 'inventory: our YAML, or an Ansible INI inventory with group_vars')
    .option('--version <version>', 'Kubernetes version (default: the inventory’s kubernetesVersion)')
    .option('--json', 'print JSON: the images and, per host, the references it needs')
    .action(async (flags: ListFlags) => {
      await imagesList(flags);
    });
}
