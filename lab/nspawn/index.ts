// nspawn lab hosts (real systemd as PID 1). Public surface only.
export { createNspawnLab, type CreateNspawnLabOptions, type NspawnLab } from './lab.js';
export { ensureNspawnRootfs } from './rootfs.js';
export type { SystemState } from './host.js';
