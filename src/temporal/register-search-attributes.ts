// Makes sure our custom search attributes exist in a namespace. `start-dev --search-attribute` only applies them
// when the namespace is *created*, so an existing SQLite file (from an older kubeadm2ha) can lack newer keys; we add
// the missing ones through the operator service at every start. Adding is idempotent from our side: we only send
// names that listSearchAttributes does not report.
import type { Connection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { searchAttributeKeys } from './search-attributes.js';

type IndexedValueType = temporal.api.enums.v1.IndexedValueType;

// Values of temporal.api.enums.v1.IndexedValueType. Written out so this module needs no runtime import of the
// generated proto package (a CommonJS bundle the client already depends on).
const indexedValueType: Record<SearchAttributeType, IndexedValueType> = {
  TEXT: 1,
  KEYWORD: 2,
  INT: 3,
  DOUBLE: 4,
  BOOL: 5,
  DATETIME: 6,
  KEYWORD_LIST: 7,
};

/** Returns the names that were added (empty when all were present). */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const present = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = searchAttributeKeys.filter((k) => !present.has(k.name));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((k) => [k.name, indexedValueType[k.type]])),
  });
  return missing.map((k) => k.name);
}
