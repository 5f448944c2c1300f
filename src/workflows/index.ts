// Every workflow type the worker serves. Workflow type names are recorded in history: they are API, never rename.
export { preflightCluster, preflightHosts } from './preflight.js';
export { setupEtcdCluster } from './etcd.js';
export { checkCertificates } from './certs.js';
export { renewEtcdCertificates } from './cert-renewal.js';
export { snapshotEtcd, restoreEtcdSnapshot } from './etcd-snapshot.js';
export { setupCluster } from './setup.js';
export { runbookBatch } from './runbook.js';
export { transferImages } from './images.js';
export { upgradeCluster } from './upgrade.js';
export { uninstallCluster } from './uninstall.js';
export { manageAddon } from './addons.js';
