// The single place client and worker get their DataConverter from, so both always agree on how payloads are
// encoded. Today: the SDK default (undefined). The payload codec (encryption) plugs in here later; callers do
// not change.
import type { DataConverter } from '@temporalio/common';

export function dataConverter(): DataConverter | undefined {
  return undefined;
}
