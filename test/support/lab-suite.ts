// One lab per test file, with what the lab workflow tests run against it: a scratch dir that holds the state dir
// (KUBEADM2HA_STATE_DIR: CA store, admin kubeconfig, snapshots), the codec switched off, the workflow bundle, the
// lab, its inventory (also written to scratch/inventory.yaml for the CLI commands and worker processes) and a
// Temporal client. labSuite makes a real-Kubernetes lab (lab/k8s), plainLabSuite plain hosts (lab/: sshd, Debian's
// etcd, no Kubernetes); both are suiteOn, the one lifecycle. It exists because the lab test files each repeated the
// same beforeAll/afterAll, about 25 lines, and a copy that missed a clean-up step leaves a lab's namespaces or a test
// CA's key behind: here afterAll always runs every step through cleanUp (the file's own steps first, then the
// client, the file's Temporal server if it has one, the lab, the environment, the scratch dir).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { afterAll, beforeAll } from 'vitest';
import { stringify } from 'yaml';
import { loadInventory } from '../../src/inventory/index.js';
import type { Inventory, InventoryInput } from '../../src/inventory/schema.js';
import { loadWorkflowBundle } from '../../src/temporal/bundle.js';
import { CODEC_ENV } from '../../src/temporal/data-converter.js';
import { createLab, type CreateLabOptions, type Lab } from '../../lab/index.js';
import { writeLabInventory } from '../../lab/inventory.js';
import { createK8sLab, type CreateK8sLabOptions, type K8sLab } from '../../lab/k8s/k8s-lab.js';
import { connectTemporal, temporalAddress } from '../e2e/helpers.js';
import { cleanUp } from './clean-up.js';
import { setEnv } from './env.js';
import { runLabWorkflow } from './lab-worker.js';

/** What every suite's options have, whatever the lab. */
interface CommonSuiteOptions {
  /** Names the scratch dir: k2h-<name>-XXXXXX in the system's temp dir. */
  name: string;
  /** Load the workflow bundle (default true). False where the workers are processes of their own. */
  bundle?: boolean;
  /** More environment for the whole file, set with the state dir and the codec switch (and able to override them),
   * undone in afterAll: a codec keyring in the scratch dir, the codec on. */
  env?: (scratch: string) => Record<string, string>;
  /** A Temporal server of the file's own (one it restarts): `start` runs after the lab and resolves to its address;
   * `stop` runs in afterAll after the client closed, always (also when `start` threw after spawning the server, or
   * never ran), so it must be a no-op when nothing is running. Default the shared dev server at temporalAddress(). */
  server?: { start: (scratch: string) => Promise<string>; stop: () => unknown };
  /** First in afterAll (the file's own workers, pollers and captures), before the client closes and the lab goes. */
  cleanUp?: Array<() => unknown>;
}

export interface SuiteOptions<L extends SuiteLab> extends CommonSuiteOptions {
  createLab: () => Promise<L>;
  /** The inventory the file's workflows run with, from the lab just created, written to `file` as YAML. */
  inventory: (lab: L, file: string) => Promise<Inventory>;
  ready?: (suite: LabSuite<L>) => Promise<void>;
}

export interface LabSuiteOptions extends CommonSuiteOptions {
  lab: CreateK8sLabOptions;
  /** The inventory the file's workflows run with, from the lab just created. */
  inventory: (lab: K8sLab) => Inventory;
  /** Last in beforeAll, with everything up: a setup run, packet captures, a worker of the file's own. */
  ready?: (suite: LabSuite) => Promise<void>;
}

export interface PlainLabSuiteOptions extends CommonSuiteOptions {
  lab: CreateLabOptions;
  /** The inventory as written (default the lab's own, lab.inventory()); loaded back through the inventory loader,
   * so the file's workflows get it with its defaults, as the CLI would. */
  inventory?: (lab: Lab) => InventoryInput;
  ready?: (suite: LabSuite<Lab>) => Promise<void>;
}

/** The part of a lab the suite itself uses. */
export interface SuiteLab {
  destroy(): Promise<void>;
}

export interface LabSuite<L extends SuiteLab = K8sLab> {
  readonly lab: L;
  readonly inventory: Inventory;
  readonly temporal: Awaited<ReturnType<typeof connectTemporal>>;
  /** The address the client is connected to (for worker processes of the file's own). */
  readonly temporalAddress: string;
  readonly bundle: WorkflowBundleOption;
  readonly scratch: string;
  /** scratch/inventory.yaml: the inventory as the CLI reads it. */
  readonly inventoryFile: string;
  /** runLabWorkflow with this file's client, bundle and inventory: `workflowType` on a fresh worker and task queue,
   * workflow id `<cluster>/<name>/<queue>` (name: the workflow type unless given). */
  run<R>(workflowType: string, args: unknown[], name?: string): Promise<{ result: R; history: string; ms: number }>;
}

/** A real-Kubernetes lab (createK8sLab); the inventory written as it is given. */
export function labSuite(o: LabSuiteOptions): LabSuite {
  return suiteOn<K8sLab>({
    ...o,
    createLab: () => createK8sLab(o.lab),
    inventory: async (lab, file) => {
      const inv = o.inventory(lab);
      await writeFile(file, stringify(inv));
      return inv;
    },
  });
}

/** Plain lab hosts (createLab: sshd, Debian's etcd, no Kubernetes), for the etcd workflows. */
export function plainLabSuite(o: PlainLabSuiteOptions): LabSuite<Lab> {
  return suiteOn<Lab>({
    ...o,
    createLab: () => createLab(o.lab),
    inventory: async (lab, file) =>
      (await loadInventory(await writeLabInventory(file, o.inventory?.(lab) ?? lab.inventory()))).inventory,
  });
}

/** Registers the file's beforeAll (1 h: building a lab's caches cold takes long) and afterAll; the returned getters
 * are usable from beforeAll's end on (each throws before, naming what was not there yet). */
export function suiteOn<L extends SuiteLab>(o: SuiteOptions<L>): LabSuite<L> {
  let lab: L | undefined;
  let inv: Inventory | undefined;
  let temporal: LabSuite['temporal'] | undefined;
  let address: string | undefined;
  let bundle: WorkflowBundleOption | undefined;
  let scratch: string | undefined;
  let restoreEnv: (() => void) | undefined;
  const got = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`labSuite(${o.name}): ${what} used before beforeAll set it up`);
    return v;
  };
  const suite: LabSuite<L> = {
    get lab() {
      return got(lab, 'lab');
    },
    get inventory() {
      return got(inv, 'inventory');
    },
    get temporal() {
      return got(temporal, 'Temporal client');
    },
    get temporalAddress() {
      return got(address, 'Temporal address');
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
    restoreEnv = setEnv({
      KUBEADM2HA_STATE_DIR: join(scratch, 'state'),
      [CODEC_ENV]: 'off',
      ...o.env?.(scratch),
    });
    if (o.bundle !== false) bundle = await loadWorkflowBundle();
    lab = await o.createLab();
    inv = await o.inventory(lab, suite.inventoryFile);
    address = o.server ? await o.server.start(scratch) : temporalAddress();
    temporal = await connectTemporal(address);
    await o.ready?.(suite);
  }, 3_600_000);

  afterAll(() =>
    cleanUp(
      ...(o.cleanUp ?? []),
      () => temporal?.close(),
      () => o.server?.stop(),
      () => lab?.destroy(),
      () => restoreEnv?.(),
      () => scratch && rm(scratch, { recursive: true, force: true }),
    ),
  );

  return suite;
}
