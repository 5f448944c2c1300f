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
import { createApiserverEtcdActivities } from './apiserver-etcd.js';
import { createApiserverVipActivities } from './apiserver-vip.js';
import { createClusterPkiActivities } from './cluster-pki.js';
import { createContainerdActivities } from './containerd.js';
import { createKubeApiActivities } from './kube-api.js';
import { createKubePackagesActivities } from './kube-packages.js';
import { createKubeadmActivities } from './kubeadm.js';
import { createNodeDrainActivities } from './node-drain.js';
import { createNodeOsActivities } from './node-os.js';
import { createSetupFactsActivities } from './setup-facts.js';
import { createNodeUpgradeActivities } from './node-upgrade.js';
import { createUpgradeImageActivities } from './upgrade-images.js';
import { createUninstallActivities } from './uninstall.js';
import { createImageActivities } from './images.js';
import { createAddonActivities } from './addons.js';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createPreflightActivities(deps),
    ...createCertExpiryActivities(deps),
    ...createCertRenewalActivities(deps),
    ...createPkiActivities(deps),
    ...createEtcdActivities(deps),
    ...createEtcdSnapshotActivities(deps),
    ...createKubernetesBackupActivities(deps),
    // Cluster setup (issue 11), in the order a setup runs them.
    ...createSetupFactsActivities(deps),
    ...createNodeOsActivities(deps),
    ...createContainerdActivities(deps),
    ...createKubePackagesActivities(deps),
    ...createClusterPkiActivities(deps),
    ...createApiserverVipActivities(deps),
    ...createKubeadmActivities(deps),
    ...createKubeApiActivities(deps),
    // The API servers' etcd servers after the etcd group changed (setup rerun).
    ...createApiserverEtcdActivities(deps),
    // Upgrade (issue 12): drain with a deadline that honours PodDisruptionBudgets, and uncordon.
    ...createNodeDrainActivities(deps),
    ...createUninstallActivities(deps),
    // Images onto hosts (issue 13).
    ...createImageActivities(deps),
    // Cluster upgrade (issue 12): node facts, kubeadm upgrade, kubelet restart, health gate.
    ...createNodeUpgradeActivities(deps),
    ...createUpgradeImageActivities(deps),
    // Addons on a running cluster (issue 14).
    ...createAddonActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
