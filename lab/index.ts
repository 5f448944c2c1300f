// The test lab: SSH hosts as namespaces on this machine (see lab.ts). Public surface only.
export { createLab, type CreateLabOptions, type Lab, type LabHost } from './lab.js';
export { cleanupStaleLabs, destroyLabById, labStatus, type LabRecord, type LabStatus } from './teardown.js';
export { ensureLabPackages, LAB_PACKAGES, missingLabPackages } from './packages.js';
export { labInventory, LAB_KUBERNETES_VERSION, type LabInventoryOverrides } from './inventory.js';
export type { ExecResult } from './exec.js';
