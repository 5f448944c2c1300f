// Every image a cluster needs for a Kubernetes version, from the inventory alone (no host, no registry): kubeadm's
// list under the cluster's imageRepository, the containerd sandbox image when the inventory names its own, the pod
// network's images, and every image an addon registers. `images list` prints it; `images push` delivers it.
//
// Where an image is needed: control-plane images (and etcd's, stacked) on masters, the rest on every node; a host
// that is only an etcd member runs etcd from packages and needs none. Pure and workflow-safe.
import type { ImageSource } from '../images/fill.js';
import type { Host, Inventory } from '../inventory/schema.js';
import { kubeadmImageList } from '../images/kubeadm-images.js';
import { flannelImages } from '../templates/flannel.js';
import { isMaster, isWorker, targetOf } from './topology.js';
import { sandboxImage } from './cluster-config.js';
import { runbookFor, step, type ChildPhase, type OnFailure, type Phase, type Runbook } from './runbook.js';

export interface ImageNeed {
  /** Full reference as the kubelet and containerd will ask for it. */
  ref: string;
  /** Why it is needed: kubeadm, container-runtime (sandbox image), pod-network, or addon:<name>. */
  source: string;
  on: 'masters' | 'nodes';
}

/** An addon's images for a cluster (src/plan/addons*.ts registers one per addon it can install). */
export type AddonImageProvider = (inv: Inventory, version: string) => readonly Omit<ImageNeed, 'source'>[];

const addonProviders = new Map<string, AddonImageProvider>();

/**
 * An addon says which images it runs; `images list/push` include them for every inventory. Register at module load
 * of the addon's planner (the same name again replaces the provider, so reloading a module is harmless).
 */
export function registerAddonImages(addon: string, provider: AddonImageProvider): void {
  addonProviders.set(addon, provider);
}

export function planImageList(
  inv: Inventory,
  version: string = inv.cluster.kubernetesVersion,
  opts: { addons?: boolean } = {},
): ImageNeed[] {
  const c = inv.cluster;
  const v = version.replace(/^v/, '');
  const out: ImageNeed[] = kubeadmImageList(v, c.imageRepository, { etcd: c.etcd.mode === 'stacked' }).map((i) => ({
    ref: i.ref,
    source: 'kubeadm',
    on: i.on,
  }));
  // containerd runs pod sandboxes from its own setting; kubeadm's pause is still listed (its preflight pulls it).
  const sandbox = c.containerRuntime.sandboxImage === undefined ? undefined : sandboxImage(inv);
  if (sandbox) out.push({ ref: sandbox, source: 'container-runtime', on: 'nodes' });
  if (c.network.plugin === 'flannel') {
    for (const ref of flannelImages(c.imageRepository)) out.push({ ref, source: 'pod-network', on: 'nodes' });
  }
  const providers = opts.addons === false ? [] : [...addonProviders.entries()];
  for (const [addon, provider] of providers.sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const img of provider(inv, v)) out.push({ ...img, source: `addon:${addon}` });
  }
  // One entry per reference; a reference needed on every node covers masters too.
  const byRef = new Map<string, ImageNeed>();
  for (const n of out) {
    const prev = byRef.get(n.ref);
    if (!prev) byRef.set(n.ref, n);
    else if (n.on === 'nodes') prev.on = 'nodes';
  }
  return [...byRef.values()];
}

/** The references `host` needs out of `list`: none on a host that is not a node. */
export function imagesFor(host: Host, list: readonly ImageNeed[]): string[] {
  if (!isMaster(host) && !isWorker(host)) return [];
  return list.filter((i) => i.on === 'nodes' || isMaster(host)).map((i) => i.ref);
}

export interface ImagePushOptions {
  version?: string;
  /** Default: planImageList's without addons (the CLI passes its list, with the addons registered in its process). */
  images?: readonly ImageNeed[];
  /** Each reference's own registry (default), or an OCI layout directory on the worker's machine. */
  source?: ImageSource;
  /** How many hosts each host feeds (default FAN_OUT; 1: a chain). */
  fanOut?: number;
  onFailure?: OnFailure;
}

/**
 * Receivers each host feeds. Every host receives at once, each from the host before it in the tree as that one
 * receives (a hop forwards a blob while it is still arriving), so delivery takes about one transfer plus a short
 * delay per hop, not one transfer per round. 1 makes a chain: every host sends the set once, the least any link
 * carries; more hosts per sender make the chain shorter (fewer hops that can stall everything after them) at the cost
 * of a sender's link carrying the set that many times.
 */
export const FAN_OUT = 2;

/**
 * The push runbook: the store is filled once; then every receiver at once, the first from the operator and each
 * other from the host `fanOut` receivers share as their sender (a tree in list order: receiver i is fed by receiver
 * (i-1)/fanOut), forwarding blobs while they arrive, so the operator's uplink carries the set once and the hosts'
 * links carry the rest; each host's import starts as soon as it has its blobs, and an import phase waits for all
 * and checks. Masters go first: they need every image, so a sender holds what its receivers need.
 */
export function planImagePush(inv: Inventory, o: ImagePushOptions = {}): Runbook {
  const version = (o.version ?? inv.cluster.kubernetesVersion).replace(/^v/, '');
  // Without the CLI's list, no addon images: inside a workflow the registered providers are whatever modules the
  // bundle happens to hold (every addon, installed or not), not a choice anybody made.
  const list = o.images ?? planImageList(inv, version, { addons: false });
  const receivers = [...inv.hosts.filter(isMaster), ...inv.hosts.filter((h) => isWorker(h) && !isMaster(h))];
  const phases: Phase[] = [
    {
      id: 'store',
      title: 'images into the local store',
      kind: 'once',
      steps: [
        step(
          'fillImageStore',
          `${list.length} images from ${o.source?.kind ?? 'registry'}`,
          'transfer',
          { refs: list.map((i) => i.ref), source: o.source ?? { kind: 'registry' } },
          // A run that fails or is aborted after this lets go, on every receiver, of the blobs kept for an import
          // (the receiver labels them as they arrive; only a verified host's cleanup takes the label off).
          receivers.length
            ? {
                undo: {
                  id: 'releaseImageBlobs',
                  args: { hosts: receivers.map((h) => ({ target: targetOf(h), ssh: inv.ssh })) },
                },
              }
            : {},
        ),
      ],
    },
  ];
  const fanOut = Math.max(1, Math.floor(o.fanOut ?? FAN_OUT));
  if (receivers.length) {
    phases.push({
      id: 'deliver',
      title: 'images from host to host, forwarded as they arrive',
      kind: 'hosts',
      // Senders come before their receivers, so however the executor batches the hosts a sender has started.
      rollout: { kind: 'parallel' },
      hosts: receivers.map((h, i) => {
        const from = i ? receivers[Math.floor((i - 1) / fanOut)] : undefined;
        return {
          target: targetOf(h),
          maySkip: false,
          steps: [
            step(
              'deliverImages',
              from ? `images from ${from.name}` : 'images from the operator',
              'transfer',
              { refs: imagesFor(h, list), stageOnly: true, ...(from && { from: targetOf(from) }) },
              { bind: { images: { from: 'fillImageStore', field: 'images' } } },
            ),
          ],
        };
      }),
    });
  }
  // The import phase, on every host at once: waits for the import each host started once it had its blobs (the slow
  // part, containerd unpacking the layers), lists the images by digest, drops the staged blobs (no sender needs them
  // any more: every receiver is done).
  phases.push({
    id: 'import',
    title: 'images into containerd, verified by digest',
    kind: 'hosts',
    rollout: { kind: 'parallel' },
    hosts: receivers.map((h) => ({
      target: targetOf(h),
      maySkip: false,
      steps: [
        step(
          'deliverImages',
          'import into containerd (k8s.io), list by digest',
          'transfer',
          { refs: imagesFor(h, list) },
          { bind: { images: { from: 'fillImageStore', field: 'images' } } },
        ),
      ],
    })),
  });
  const rb = runbookFor('images', `images push (Kubernetes ${version})`, inv, o.onFailure, phases);
  return { ...rb, kubernetesVersion: version };
}

/**
 * What setup (before kubeadm init) and upgrade (before the first master) run when the inventory says the hosts are
 * air-gapped: `images push` for that version as a child workflow, from the inventory's image source. Undefined
 * otherwise. The child fails whole (onFailure abort); the parent's decision gate then offers retry or abort.
 */
export function imagePushPhase(inv: Inventory, version: string): ChildPhase | undefined {
  const { airGapped, source } = inv.cluster.images;
  if (!airGapped) return undefined;
  const v = version.replace(/^v/, '');
  return {
    id: 'images',
    title: `images for Kubernetes ${v} onto every node (images push)`,
    kind: 'child',
    workflow: 'transferImages',
    input: { inventory: inv, version: v, ...(source && { source }), onFailure: 'abort' },
  };
}
