// One real-Kubernetes lab per test file, with what the lab workflow tests run against it: a scratch dir that holds
// the state dir (KUBEADM2HA_STATE_DIR: CA store, admin kubeconfig, snapshots), the codec switched off, the workflow
// bundle, the lab, its inventory (also written to scratch/inventory.yaml for the CLI commands) and a Temporal client.
// It exists because the lab test files each repeated the same beforeAll/afterAll, about 25 lines, and a copy that
// missed a clean-up step leaves a lab's namespaces or a test CA's key behind: here afterAll always runs every step
// through cleanUp (the file's own steps first, then the client, the lab, the environment, the scratch dir).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { afterAll, beforeAll } from 'vitest';
import { stringify } from 'yaml';
import type { Inventory } from '../../src/inventory/schema.js';
import { loadWorkflowBundle } from '../../src/temporal/bundle.js';
import { CODEC_ENV } from '../../src/temporal/data-converter.js';
import { createK8sLab, type CreateK8sLabOptions, type K8sLab } from '../../lab/k8s/k8s-lab.js';
import { connectTemporal } from '../e2e/helpers.js';
import { cleanUp } from './clean-up.js';
import { setEnv } from './env.js';
import { runLabWorkflow } from './lab-worker.js';

export interface LabSuiteOptions {
  /** Names the scratch dir: k2h-<name>-XXXXXX in the system's temp dir. */
  name: string;
  lab: CreateK8sLabOptions;
  /** The inventory the file's workflows run with, from the lab just created. */
  inventory: (lab: K8sLab) => Inventory;
  /** Load the workflow bundle (default true). False where the workers are processes of their own. */
  bundle?: boolean;
  /** Last in beforeAll, with everything up: a setup run, packet captures, a worker of the file's own. */
  ready?: (suite: LabSuite) => Promise<void>;
  /** First in afterAll (the file's own workers, pollers and captures), before the client closes and the lab goes. */
  cleanUp?: Array<() => unknown>;
}

export interface LabSuite {
  readonly lab: K8sLab;
  readonly inventory: Inventory;
  readonly temporal: Awaited<ReturnType<typeof connectTemporal>>;
  readonly bundle: WorkflowBundleOption;
  readonly scratch: string;
  /** scratch/inventory.yaml: the inventory as the CLI reads it. */
  readonly inventoryFile: string;
  /** runLabWorkflow with this file's client, bundle and inventory: `workflowType` on a fresh worker and task queue,
   * workflow id `<cluster>/<name>/<queue>` (name: the workflow type unless given). */
  run<R>(workflowType: string, args: unknown[], name?: string): Promise<{ result: R; history: string; ms: number }>;
}

/** Registers the file's beforeAll (1 h: building a lab's caches cold takes long) and afterAll; the returned getters
 * are usable from beforeAll's end on (each throws before, naming what was not there yet). */
export function labSuite(o: LabSuiteOptions): LabSuite {
  let lab: K8sLab | undefined;
  let inv: Inventory | undefined;
  let temporal: LabSuite['temporal'] | undefined;
  let bundle: WorkflowBundleOption | undefined;
  let scratch: string | undefined;
  let restoreEnv: (() => void) | undefined;
  const got = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`labSuite(${o.name}): ${what} used before beforeAll set it up`);
    return v;
  };
  const suite: LabSuite = {
    get lab() {
      return got(lab, 'lab');
    },
    get inventory() {
      return got(inv, 'inventory');
    },
    get temporal() {
      return got(temporal, 'Temporal client');
    },
    get bundle() {
      return got(bundle, o.bundle === false ? 'bundle (not loaded: bundle false)' : 'workflow bundle');
    },
    get scratch() {
      return got(scratch, 'scratch dir');
    },
    get inventoryFile() {
      return join(got(scratch, 'scratch dir'), 'inventory.yaml');
    },
    run<R>(workflowType: string, args: unknown[], name = workflowType) {
      const { temporal, bundle, inventory } = suite;
      return runLabWorkflow<R>({ temporal, bundle, inventory, workflowType, args, name });
    },
  };

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), `k2h-${o.name}-`));
    restoreEnv = setEnv({ KUBEADM2HA_STATE_DIR: join(scratch, 'state'), [CODEC_ENV]: 'off' });
    if (o.bundle !== false) bundle = await loadWorkflowBundle();
    lab = await createK8sLab(o.lab);
    inv = o.inventory(lab);
    await writeFile(suite.inventoryFile, stringify(inv));
    temporal = await connectTemporal();
    await o.ready?.(suite);
  }, 3_600_000);

  afterAll(() =>
    cleanUp(
      ...(o.cleanUp ?? []),
      () => temporal?.close(),
      () => lab?.destroy(),
      () => restoreEnv?.(),
      () => scratch && rm(scratch, { recursive: true, force: true }),
    ),
  );

  return suite;
}
