// All activities, built from their dependencies. The worker registers exactly this object, and workflows
// `import type` it, so a renamed activity breaks the build rather than a run.
import { createCertExpiryActivities } from './cert-expiry.js';
import { createCertRenewalActivities } from './cert-renewal.js';
import type { ActivityDeps } from './deps.js';
import { createEtcdActivities } from './etcd.js';
import { createEtcdSnapshotActivities } from './etcd-snapshot.js';
import { createKubernetesBackupActivities } from './kubernetes-backup.js';
import { createPkiActivities } from './pki.js';
import { createPreflightActivities } from './preflight.js';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createPreflightActivities(deps),
    ...createCertExpiryActivities(deps),
    ...createCertRenewalActivities(deps),
    ...createPkiActivities(deps),
    ...createEtcdActivities(deps),
    ...createEtcdSnapshotActivities(deps),
    ...createKubernetesBackupActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
