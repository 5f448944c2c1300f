// Seed INI inventory → our YAML, for migrating. Writes only what the seed set (defaults stay implicit, so the
// file reads like a hand-written one) and keeps every warning as a comment at the top, where the user will see
// what was dropped and why. Loading the result gives the same Inventory as loading the INI.
import { Document, isMap, isSeq } from 'yaml';
import { formatWarning, type InventoryWarning } from './errors.js';

export function toYaml(value: unknown, opts: { from: string[]; warnings: InventoryWarning[] }): string {
  const obj = value as Record<string, unknown>;
  const ordered = { cluster: obj.cluster, ...(obj.ssh !== undefined && { ssh: obj.ssh }), hosts: obj.hosts };
  const doc = new Document(ordered);
  const hosts = doc.get('hosts');
  // One line of roles per host reads better than a nested list.
  if (isSeq(hosts))
    for (const h of hosts.items) {
      const roles = isMap(h) ? h.get('roles', true) : undefined;
      if (isSeq(roles)) roles.flow = true;
    }
  const lines = [
    ` kubeadm2ha inventory, converted from ${opts.from.join(', ')}`,
    ' by `kubeadm2ha inventory convert`. See examples/inventory.yaml for every setting.',
    ...(opts.warnings.length
      ? ['', ' Notes from the conversion:', ...opts.warnings.map((w) => `   ${formatWarning(w)}`)]
      : []),
  ];
  doc.commentBefore = lines.join('\n');
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
