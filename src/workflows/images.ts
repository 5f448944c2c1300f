// transferImages: every image the cluster needs for a version, onto every host that needs it (`images push`), as
// the runbook planImagePush builds: the worker's store filled once, then every host at once, each fed by one before it
// that forwards the blobs while they arrive. Skips what hosts already have, so a second push sends nothing.
import type { ImageSource } from '../images/fill.js';
import type { Inventory } from '../inventory/schema.js';
import { planImagePush, type ImageNeed } from '../plan/images.js';
import type { OnFailure, Step } from '../plan/runbook.js';
import { acceptInput } from './input.js';
import { runRunbook, type RunbookResult } from './runbook.js';

export interface TransferImagesInput {
  inventory: Inventory;
  version?: string;
  /** The list as the CLI computed it (addons registered in its process included); default planImageList's. */
  images?: ImageNeed[];
  source?: ImageSource;
  /** Hosts each host feeds (default FAN_OUT in src/plan/images.ts; 1: a chain). */
  fanOut?: number;
  onFailure?: OnFailure;
}

/** One progress line per step: how many bytes moved, from where. */
function describe(step: Step, result: unknown): string | undefined {
  const r = (result ?? {}) as Record<string, unknown>;
  if (step.id === 'fillImageStore')
    return `${Number(r.fetchedBytes ?? 0)} bytes fetched, ${Number(r.uniqueBytes ?? 0)} in the set`;
  if (step.id === 'deliverImages') {
    const imported = (r.imported as string[] | undefined)?.length ?? 0;
    const sent = Number(r.bytesSent ?? 0);
    if (imported) return `${imported} imported${sent ? `, ${sent} bytes from ${String(r.from)}` : ''}`;
    // Delivery only stages (its import runs in the background): bytes, or nothing needed.
    return sent ? `${sent} bytes from ${String(r.from)}, importing` : 'all present';
  }
  return undefined;
}

export async function transferImages(raw: TransferImagesInput): Promise<RunbookResult> {
  const input = acceptInput('transferImages', raw);
  return runRunbook(planImagePush(input.inventory, input), { describe });
}
