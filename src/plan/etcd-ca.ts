// What the etcd workflow asks for its CA: the CA plan, plus every host that holds (or will hold) the CA
// certificate, so the activity can refuse to make a second CA for hosts that already trust one. Pure and
// workflow-safe.
import type { EnsureCaInput } from '../activities/pki.js';
import type { Inventory } from '../inventory/schema.js';
import type { EtcdSetupPlan } from './etcd.js';
import { targetOf } from './topology.js';
import type { HostContext } from './types.js';

export function etcdCaRequest(
  p: Pick<EtcdSetupPlan, 'cluster' | 'ca' | 'pki'>,
  inv: Pick<Inventory, 'hosts' | 'ssh'>,
  replaceCa = false,
): EnsureCaInput {
  const holders = p.pki.flatMap((h) => {
    const file = h.caCertificates.find((c) => c.name === p.ca.name);
    const host = inv.hosts.find((x) => x.name === h.host);
    return file && host
      ? [{ host: { target: targetOf(host), ssh: inv.ssh } satisfies HostContext, certPath: file.certPath }]
      : [];
  });
  const certPath = holders[0]?.certPath;
  return {
    cluster: p.cluster,
    ca: p.ca,
    ...(certPath !== undefined && { trustedBy: { hosts: holders.map((h) => h.host), certPath } }),
    ...(replaceCa && { replaceCa }),
  };
}
