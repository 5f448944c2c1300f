// The inventory module's public face: load (any format) → typed Inventory, or an InventoryError with every issue.
export { loadInventory, readInventorySource, resolveInventoryFile, validateSource, type Validated } from './load.js';
export { InventoryError, formatIssue, formatWarning, type InventoryIssue, type InventoryWarning } from './errors.js';
export { toYaml } from './convert.js';
export type { LoadedSource } from './source.js';
