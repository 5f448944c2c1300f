// `kubeadm2ha images list -i <inventory> [--version V] [--json]`: every image the cluster needs for a Kubernetes
// version, computed here from the inventory (no host, no registry contacted), with where each is needed.
// `kubeadm2ha images push -i <inventory> [--version V] [--from-oci DIR] [--plain-http R]`: those images onto the
// hosts, as the transferImages workflow (store filled once, hosts relaying to each other, verified by digest).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { DeliverImagesResult, FillImageStoreResult } from '../../activities/images.js';
import { InvalidInputError } from '../../errors.js';
import { UnknownKubernetesMinorError } from '../../images/kubeadm-images.js';
import { formatWarning, loadInventory } from '../../inventory/index.js';
import { KubernetesVersion, type Inventory } from '../../inventory/schema.js';
import { imagesFor, planImageList, planImagePush, type ImageNeed } from '../../plan/images.js';
import { describeRunbook } from '../../plan/runbook.js';
import type { TransferImagesInput } from '../../workflows/images.js';
import type { RunbookResult } from '../../workflows/runbook.js';
import { addOperationOptions, addRunbookOptions, onFailureFlag } from '../context.js';
import { addInventoryOption, runInventoryOperation, type InventoryFlags } from '../inventory-operation.js';
// Registers every addon's images with planImageList (src/plan/addons.ts).
import '../../plan/addons.js';

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

interface PushFlags extends InventoryFlags {
  version?: string;
  fromOci?: string;
  plainHttp?: string[];
  onFailure?: string;
}

/** The push's numbers in words: what the operator sent against what the set weighs. */
export function pushReport(result: RunbookResult): string[] {
  const fill = result.steps.find((s) => s.step === 'fillImageStore')?.result as FillImageStoreResult | undefined;
  const all = result.steps.filter((s) => s.step === 'deliverImages').map((s) => s.result as DeliverImagesResult);
  const operator = all.reduce((n, h) => n + h.operatorBytes, 0);
  // A host's line: bytes and source from its delivery, what was imported and verified from the import phase.
  const hosts = result.steps
    .filter((s) => s.step === 'deliverImages' && s.phase === 'import')
    .map((s) => {
      const imp = s.result as DeliverImagesResult;
      const staged = all.find((d) => d.host === imp.host && d !== imp);
      return { ...imp, ...(staged && { bytesSent: staged.bytesSent, from: staged.from, resumed: staged.resumed }) };
    });
  const lines = [
    `${fill?.images.length ?? 0} images (${fill?.uniqueBytes ?? 0} bytes once), ${fill?.fetchedBytes ?? 0} bytes fetched into the store`,
  ];
  for (const h of hosts) {
    lines.push(
      `  ${h.host}: ${h.imported.length ? `${h.imported.length} imported, ${h.bytesSent} bytes from ${h.from}` : 'had every image'}` +
        `${h.resumed.length ? `, ${h.resumed.length} blob(s) resumed` : ''}; ${h.verified.length} verified by digest`,
    );
  }
  lines.push(`operator sent ${operator} bytes to hosts`);
  return lines;
}

export function imagesPush(flags: PushFlags): Promise<RunbookResult | undefined> {
  return runInventoryOperation<PushFlags, TransferImagesInput, RunbookResult>(flags, {
    workflowType: 'transferImages',
    operation: 'images',
    command: 'images push',
    about: (input) => `(${input.version})`,
    input: (inventory, f) => {
      const version = versionFlag(inventory, f.version);
      return {
        inventory,
        version,
        // Computed here, so addons registered in this process are part of the list the workflow delivers.
        images: imageListOf(inventory, version),
        // The flags, else the inventory's images.source (what an air-gapped setup or upgrade pushes from).
        source: f.fromOci
          ? { kind: 'oci-layout', dir: resolve(f.fromOci) }
          : f.plainHttp?.length
            ? { kind: 'registry', plainHttp: f.plainHttp }
            : (inventory.cluster.images.source ?? { kind: 'registry' }),
        onFailure: onFailureFlag(f.onFailure),
      };
    },
    dryRun: (input) => {
      const runbook = planImagePush(input.inventory, input);
      return { json: runbook, lines: describeRunbook(runbook) };
    },
    report: pushReport,
  });
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
  addOperationOptions(
    addRunbookOptions(
      addInventoryOption(
        images
          .command('push')
          .description('deliver every image the cluster needs to the hosts that need it, verified by digest'),
      )
        .option('--version <version>', 'Kubernetes version (default: the inventory’s kubernetesVersion)')
        .option('--from-oci <dir>', 'take the images from this OCI layout directory instead of their registries')
        .option(
          '--plain-http <registry...>',
          'registries (host:port) to fetch from over plain http; credentials: KUBEADM2HA_REGISTRY_USERNAME/_PASSWORD in the worker’s environment',
        ),
    ),
  ).action(async (flags: PushFlags) => {
    await imagesPush(flags);
  });
}
