// `etcd snapshot` as a runbook for the shared executor (src/workflows/runbook.ts): one cluster-wide step,
// saveEtcdSnapshot, which tries the members in inventory order until one takes the snapshot, streams it to the
// operator's store and verifies it there. Pure and workflow-safe: the same function feeds `etcd snapshot --dry-run`
// and the snapshotEtcd workflow. A snapshot that no member could take parks the run at the decision gate (retry,
// or abort) unless onFailure is abort; nothing is undone, a snapshot changes nothing on the cluster.
import type { Inventory } from '../inventory/schema.js';
import { planEtcdSetup } from './etcd.js';
import { runbookFor, step, type OnFailure, type Runbook } from './runbook.js';

/** The snapshot runbook; `stamp` (UTC YYYYMMDDTHHMMSSZ from the workflow clock) names the file, also on a retry. */
export function planEtcdSnapshotRunbook(inv: Inventory, stamp: string, onFailure?: OnFailure): Runbook {
  const p = planEtcdSetup(inv); // refuses stacked etcd and an inventory without etcd hosts
  return runbookFor('etcd', `etcd snapshot of ${p.cluster}`, inv, onFailure, [
    {
      id: 'snapshot',
      title: 'snapshot saved on the first member that can, copied and verified',
      kind: 'once',
      steps: [
        step(
          'saveEtcdSnapshot',
          `snapshot ${stamp} from ${p.members.map((m) => m.target.name).join(', then ')}`,
          'transfer',
          {
            cluster: p.cluster,
            members: p.members.map((m) => ({ host: { target: m.target, ssh: inv.ssh }, clientUrl: m.clientUrl })),
            tls: p.healthcheckClient,
            stamp,
          },
        ),
      ],
    },
  ]);
}
