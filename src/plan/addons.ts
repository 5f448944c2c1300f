// The addon runbooks: apply (server-side apply of the rendered manifest, then its rollout waited for) and remove
// (exactly what the apply recorded), both through the primary master with the admin kubeconfig from the local store.
// The manifest is rendered here, from the addon's typed template (src/templates/addons) and values from the
// inventory, so `--dry-run` shows the very objects the workflow applies. Pure and workflow-safe.
import type { Inventory } from '../inventory/schema.js';
import {
  ADDONS,
  addonImages,
  addonNamed,
  renderManifest,
  type AddonTemplate,
  type AddonValues,
} from '../templates/addons/index.js';
import { registerAddonImages } from './images.js';
import { runbookFor, step, type OnFailure, type Runbook } from './runbook.js';
import { etcdHosts, masters, nodes, primaryMaster, targetOf } from './topology.js';
import type { HostContext } from './types.js';

export type AddonAction = 'apply' | 'remove';

export interface AddonPlanOptions {
  onFailure?: OnFailure;
  /** Wait for the rollout (default true). Off only where the images cannot run (the lab's Headlamp). */
  wait?: boolean;
  /** Seconds for the rollout to finish (default 300). */
  timeoutSeconds?: number;
  /** remove: also delete the addon's stored data on the nodes (the logging store's days), not only its buffers. */
  deleteData?: boolean;
}

/** Kinds whose rollout `kubectl rollout status` follows; APIServices are waited for Available. */
const ROLLOUT_KINDS = new Set(['Deployment', 'DaemonSet', 'StatefulSet']);

// Every offered addon's images in `images list/push`, whether or not it is applied yet: an air-gapped mirror must
// hold them before `addons apply`. Pods of an addon may land on any node, so every node may pull them.
for (const a of ADDONS) {
  if (a.status === 'retired') continue;
  registerAddonImages(a.name, (inv) =>
    addonImages(inv.cluster.imageRepository, [a.name]).map((i) => ({ ref: i.image, on: 'nodes' as const })),
  );
}

export class AddonPlanError extends Error {
  override name = 'AddonPlanError';
}

export function addonValues(inv: Inventory): AddonValues {
  const named = (role: 'logs-hot' | 'logs-warm') => inv.hosts.filter((h) => h.roles.includes(role)).map((h) => h.name);
  return {
    imageRepository: inv.cluster.imageRepository,
    masters: masters(inv).length,
    logging: { hot: named('logs-hot'), warm: named('logs-warm'), ...inv.addons.logging },
    ...(inv.cluster.etcd.mode === 'external' && { etcdAddresses: etcdHosts(inv).map((h) => h.address) }),
  };
}

/** The template's objects, or why this inventory cannot have them (no logs-hot host, no master…). */
function renderAddon(addon: AddonTemplate, inv: Inventory) {
  try {
    return addon.render(addonValues(inv));
  } catch (err) {
    throw new AddonPlanError(`addon ${addon.name}: ${(err as Error).message}`);
  }
}

/** The addon, or why it cannot be applied (unknown, or retired with the reason). */
export function offeredAddon(name: string): AddonTemplate {
  const a = addonNamed(name);
  if (!a) throw new AddonPlanError(`unknown addon ${name} (kubeadm2ha addons list shows them)`);
  if (a.status === 'retired') throw new AddonPlanError(`addon ${name} is retired: ${a.retiredBecause ?? ''}`);
  return a;
}

export function planAddon(inv: Inventory, name: string, action: AddonAction, o: AddonPlanOptions = {}): Runbook {
  const via: HostContext = { target: targetOf(primaryMaster(inv)), ssh: inv.ssh };
  const cluster = inv.cluster.name;
  if (action === 'remove') {
    // A retired addon may still have been installed by an older kubeadm2ha: removal only needs the name.
    const template = addonNamed(name);
    if (!template) throw new AddonPlanError(`unknown addon ${name} (kubeadm2ha addons list shows them)`);
    // Directories its pods kept on the nodes go after the objects (no pod writes to them any more): buffers always,
    // stored data only when asked. Per node, so a node that is down parks the run on that node alone.
    const dirs = (
      template.hostPaths?.(
        addonValues(inv),
        nodes(inv).map((h) => h.name),
      ) ?? []
    ).filter((p) => p.kind === 'buffer' || o.deleteData === true);
    const hostDirs = nodes(inv)
      .map((h) => ({ h, paths: dirs.filter((p) => p.nodes.includes(h.name)).map((p) => p.path) }))
      .filter((x) => x.paths.length > 0);
    return runbookFor('addons', `remove addon ${name}`, inv, o.onFailure, [
      {
        id: 'remove',
        title: `remove ${name}`,
        kind: 'once',
        steps: [
          step('removeAddonObjects', `delete what ${name}'s apply recorded`, 'wait', {
            via,
            cluster,
            addon: name,
            timeoutSeconds: o.timeoutSeconds ?? 300,
          }),
        ],
      },
      ...(hostDirs.length === 0
        ? []
        : [
            {
              id: 'node-dirs',
              title: `delete ${name}'s directories on the nodes${o.deleteData ? ' (with its data)' : ' (buffers; data kept)'}`,
              kind: 'hosts' as const,
              rollout: { kind: 'parallel' as const },
              hosts: hostDirs.map(({ h, paths }) => ({
                target: targetOf(h),
                steps: [step('removeAddonHostPaths', `rm -rf ${paths.join(' ')}`, 'hostStep', { addon: name, paths })],
                maySkip: true,
              })),
            },
          ]),
    ]);
  }
  const addon = offeredAddon(name);
  const objects = renderAddon(addon, inv);
  const waitFor = objects
    .filter((x) => ROLLOUT_KINDS.has(x.kind) || x.kind === 'APIService')
    .map((x) => ({
      apiVersion: x.apiVersion,
      kind: x.kind,
      name: x.metadata.name,
      ...(x.metadata.namespace !== undefined && { namespace: x.metadata.namespace }),
    }));
  const timeoutSeconds = o.timeoutSeconds ?? 300;
  return runbookFor('addons', `apply addon ${name} ${addon.version}`, inv, o.onFailure, [
    {
      id: 'apply',
      title: `apply ${name} ${addon.version} (${addon.status})`,
      kind: 'once',
      steps: [
        step('applyAddonObjects', `server-side apply of ${objects.length} objects`, 'hostStep', {
          via,
          cluster,
          addon: name,
          version: addon.version,
          manifest: renderManifest(objects),
        }),
        ...(o.wait === false || waitFor.length === 0
          ? []
          : [
              step('waitAddonReady', `rollout of ${waitFor.map((w) => `${w.kind}/${w.name}`).join(', ')}`, 'wait', {
                via,
                cluster,
                addon: name,
                waitFor,
                timeoutSeconds,
              }),
            ]),
      ],
    },
  ]);
}
