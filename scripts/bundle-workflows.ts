// Build step (`npm run build`): bundle the workflow code once into dist/workflow-bundle.js so workers start
// without webpack. The worker's loadWorkflowBundle() falls back to bundling in memory when this file is missing or
// older than any file it was built from (listed next to it, see bundleSourcesPath).
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { bundleSourcesPath, bundleWorkflows, prebuiltBundlePath } from '../src/temporal/bundle.js';

const out = prebuiltBundlePath();
const started = Date.now();
const { code, sources } = await bundleWorkflows();
await mkdir(dirname(out), { recursive: true });
// The list first: a bundle without its list counts as stale, never the other way round.
await writeFile(bundleSourcesPath(out), `${JSON.stringify(sources, null, 2)}\n`);
await writeFile(out, code);
process.stderr.write(`workflow bundle: ${out} (${Math.round(code.length / 1024)} KiB, ${Date.now() - started} ms)\n`);
