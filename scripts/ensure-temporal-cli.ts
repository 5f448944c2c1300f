// Build the pinned Temporal CLI into its per-version cache if it is not there yet; print its path.
import { ensureTemporalCli } from '../src/temporal/cli-binary.js';

console.log(await ensureTemporalCli());
