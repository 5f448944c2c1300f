// CI / first-run helper: `npx tsx scripts/ensure-temporal.ts` builds the pinned Temporal CLI if missing (minutes,
// once per machine) and prints its path, so a CI step can warm the cache before the tests' globalSetup needs it.
import { ensureTemporalCli } from '../src/temporal/cli-binary.js';

console.log(await ensureTemporalCli());
