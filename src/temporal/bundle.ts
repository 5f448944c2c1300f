// Workflow code for the worker. Production and `npm run build` use the prebuilt dist/workflow-bundle.js (webpack
// at worker start costs about a second and pulls in the bundler); during development the bundle goes stale the
// moment a workflow or planner file changes, so we bundle in memory instead of running old code.
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, type BundleOptions, type WorkflowBundleOption } from '@temporalio/worker';
import { failureConverterPath } from './data-converter.js';

/** The package root: the nearest directory above this module that has package.json (works from src/ and dist/). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('kubeadm2ha: cannot find package.json above the temporal module');
    dir = up;
  }
  return dir;
}

export function prebuiltBundlePath(root = projectRoot()): string {
  return join(root, 'dist', 'workflow-bundle.js');
}

/** Bundler options shared by scripts/bundle-workflows.ts and the in-memory fallback, so both produce the same code. */
export function workflowBundleOptions(root = projectRoot()): BundleOptions {
  const src = join(root, 'src', 'workflows', 'index.ts');
  return {
    workflowsPath: existsSync(src) ? src : join(root, 'dist', 'workflows', 'index.js'),
    // Failures raised inside workflows are converted in the sandbox: it needs the same (encrypting) converter.
    failureConverterPath: failureConverterPath(),
    // Webpack's info output is noise for CLI users; warnings and errors still show.
    logger: new DefaultLogger('WARN'),
  };
}

/** `{ codePath }` of the prebuilt bundle when it is newer than every workflow/planner source, else a fresh bundle. */
export async function loadWorkflowBundle(root = projectRoot()): Promise<WorkflowBundleOption> {
  const codePath = prebuiltBundlePath(root);
  const bundleMtime = await mtimeMs(codePath);
  if (bundleMtime !== undefined) {
    const newest = Math.max(
      await newestMtime(join(root, 'src', 'workflows')),
      await newestMtime(join(root, 'src', 'plan')),
      (await mtimeMs(failureConverterPath())) ?? 0,
    );
    if (bundleMtime >= newest) return { codePath };
  }
  process.stderr.write(
    `kubeadm2ha: ${bundleMtime === undefined ? 'no prebuilt workflow bundle' : 'workflow bundle is older than src/'}; bundling workflows in memory\n`,
  );
  const { code } = await bundleWorkflowCode(workflowBundleOptions(root));
  return { code };
}

async function mtimeMs(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Newest mtime of any file below dir (0 when dir does not exist, e.g. an install with dist/ only). */
async function newestMtime(dir: string): Promise<number> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch {
    return 0;
  }
  let newest = 0;
  for (const e of entries) {
    if (!e.isFile()) continue;
    newest = Math.max(newest, (await stat(join(e.parentPath, e.name))).mtimeMs);
  }
  return newest;
}
