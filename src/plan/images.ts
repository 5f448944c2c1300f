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
import {
  runbookFor,
  step,
  type ChildPhase,
  type HostRun,
  type OnFailure,
  type Phase,
  type Runbook,
} from './runbook.js';

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
  /** How many hosts each host that has the images sends them to in one round (default FAN_OUT). */
  fanOut?: number;
  onFailure?: OnFailure;
}

/**
 * Receivers per holder and round: with f, the hosts that have the images grow (f+1)-fold per round: 1, 4, 16, 64 …
 * for 3. Where links are the limit, a round takes as long as its busiest holder's share (f sets), so 10 hosts take
 * 5 set-times at f=1 (1+1+1+1+1), 6 at f=2 or 3 (1+2+2+1, 1+3+2); where per-round costs count (set-up, the rounds'
 * activities, few transfers at once on a busy machine) fewer rounds win: 3 at f=3 against 5 at f=1.
 */
export const FAN_OUT = 3;

/**
 * The push runbook: the store is filled once, then the hosts receive in rounds, each host that has the images
 * sending them on to up to `fanOut` that have not (1, 4, 16, … hosts have them after each round for 3), so the
 * operator's uplink carries the set once and the hosts' links carry the rest; then every host imports at once.
 * Masters go first: they need every image, so any earlier host holds what a later one needs.
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
        step('fillImageStore', `${list.length} images from ${o.source?.kind ?? 'registry'}`, 'transfer', {
          refs: list.map((i) => i.ref),
          source: o.source ?? { kind: 'registry' },
        }),
      ],
    },
  ];
  const fanOut = Math.max(1, Math.floor(o.fanOut ?? FAN_OUT));
  const holders: Host[] = [];
  let round = 0;
  while (holders.length < receivers.length) {
    round++;
    // Round 1: the operator feeds one host (its uplink carries the set once); then every holder feeds up to fanOut.
    const wave = receivers.slice(holders.length, holders.length + Math.max(1, holders.length * fanOut));
    const runs: HostRun[] = wave.map((h, i) => {
      const from = holders.length ? holders[i % holders.length] : undefined;
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
    });
    phases.push({
      id: `deliver-${round}`,
      title: `images, round ${round}`,
      kind: 'hosts',
      rollout: { kind: 'parallel' },
      hosts: runs,
    });
    holders.push(...wave);
  }
  // One import on every host at once, after the rounds: a host relays from its staging directory, so the rounds
  // move bytes only, and the slow part (containerd unpacking the layers) runs in parallel, not once per round.
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
