// Build step (`npm run build`): bundle the workflow code once into dist/workflow-bundle.js so workers start
// without webpack. The worker's loadWorkflowBundle() falls back to bundling in memory when this file is missing or
// older than src/workflows or src/plan.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { prebuiltBundlePath, workflowBundleOptions } from '../src/temporal/bundle.js';

const out = prebuiltBundlePath();
const started = Date.now();
const { code } = await bundleWorkflowCode(workflowBundleOptions());
await mkdir(dirname(out), { recursive: true });
await writeFile(out, code);
process.stderr.write(`workflow bundle: ${out} (${Math.round(code.length / 1024)} KiB, ${Date.now() - started} ms)\n`);
