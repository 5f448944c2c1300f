// What an upgrade needs besides the skew policy (issue 12 item 1): the target's kubelet and kubectl packages in the
// package sources (kubeadm's is the policy's), and the target's images on every node that runs them or in the
// registry they are pulled from. Which images where: kubeadm's list for the target (the control-plane images on
// masters; kube-proxy, CoreDNS and pause on every node). The pod network and addons do not change in an upgrade.
// Pure and workflow-safe.
import type { ReadUpgradeImagesInput, UpgradeImageFacts } from '../activities/upgrade-images.js';
import type { Inventory } from '../inventory/schema.js';
import { kubeadmImageList } from '../images/kubeadm-images.js';
import { isMaster, nodes, targetOf } from './topology.js';

/** The readUpgradeImages input for a target, or a reason the images cannot be listed (a minor without a table). */
export function upgradeImageNeeds(
  inv: Inventory,
  target: string,
): { input: ReadUpgradeImagesInput } | { unchecked: string } {
  const c = inv.cluster;
  // The run pushes the images itself (an images push phase before the first master): they need not be there yet,
  // and that push checks every image at its source.
  if (c.images.airGapped)
    return { unchecked: 'the upgrade pushes them itself (cluster.images.airGapped); images push checks its source' };
  let list;
  try {
    list = kubeadmImageList(target, c.imageRepository, { etcd: c.etcd.mode === 'stacked' });
  } catch (err) {
    return { unchecked: err instanceof Error ? err.message : String(err) };
  }
  return {
    input: {
      hosts: nodes(inv).map((h) => ({
        host: { target: targetOf(h), ssh: inv.ssh },
        refs: list.filter((i) => i.on === 'nodes' || isMaster(h)).map((i) => i.ref),
      })),
      registries: c.containerRuntime.registries.map((r) => ({
        host: r.host,
        endpoints: r.endpoints,
        ...(r.skipVerify && { skipVerify: true }),
      })),
    },
  };
}

/** Each target image no node-that-needs-it holds and the registry does not answer for: one line naming both. */
export function imageProblems(facts: UpgradeImageFacts): string[] {
  const out: string[] = [];
  for (const i of facts.images) {
    if (i.missingOn.length === 0 || i.inRegistry === true) continue;
    const where = `and not on ${i.missingOn.join(', ')}`;
    out.push(
      i.registryError !== undefined
        ? `image ${i.ref}: the registry could not be asked (${i.registryError}) ${where}`
        : `image ${i.ref}: not in the registry (${i.registryUrl ?? 'its registry'} has no such manifest) ${where}`,
    );
  }
  if (out.length) out.push('put the missing images in the registry or on the nodes first (kubeadm2ha images push)');
  return out;
}

/** kubelet and kubectl at the target's package version, in the sources that were read. */
export function packageProblems(offered: Record<string, string[]> | undefined, packageVersion: string): string[] {
  if (!offered || !packageVersion) return [];
  return ['kubelet', 'kubectl'].flatMap((p) => {
    const have = offered[p] ?? [];
    return have.includes(packageVersion)
      ? []
      : [`the package sources offer no ${p} ${packageVersion} (offered: ${have.join(', ') || 'none'})`];
  });
}
