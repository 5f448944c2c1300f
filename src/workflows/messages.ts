// Queries, signals and updates, defined once and imported by both workflows and the CLI, so a rename breaks the
// build instead of a run.
import { defineQuery } from '@temporalio/workflow';
import type { Progress } from '../plan/types.js';

/** Per-host, per-step state of a running (or finished) operation; the CLI polls it to draw progress. */
export const progressQuery = defineQuery<Progress>('progress');
