// Plain, serialisable data shared by the planner, workflows, activities and the CLI. Workflow-safe: no imports
// with side effects, nothing but types and constants.
import type { Inventory, Role, SshSettings } from '../inventory/schema.js';
import type { Waiting } from './gates.js';

/** How an activity reaches one host. Only names and paths, never key material: this travels through history. */
export interface HostTarget {
  name: string;
  address: string;
  roles: Role[];
  port?: number;
  user?: string;
  identityFile?: string;
  bastion?: string;
}

/** Everything an SSH activity needs: the target plus the cluster-wide SSH settings (paths and policies only). */
export interface HostContext {
  target: HostTarget;
  ssh: SshSettings;
}

export type CheckStatus = 'pass' | 'warn' | 'fail';

export const PreflightCheckId = {
  os: 'os',
  resources: 'resources',
  swap: 'swap',
  kernelModules: 'kernel-modules',
  sysctl: 'sysctl',
  cgroups: 'cgroups',
  hostname: 'hostname',
  identity: 'identity',
  clock: 'clock',
  ports: 'ports',
  containerRuntime: 'container-runtime',
  vipSubnet: 'vip-subnet',
  disk: 'disk',
} as const;
export type PreflightCheckId = (typeof PreflightCheckId)[keyof typeof PreflightCheckId];

/** One check to run on one host, with the parameters the planner chose for that host's roles. */
export interface CheckSpec {
  id: PreflightCheckId;
  title: string;
  params: {
    minCpus?: number;
    minMemoryMiB?: number;
    ports?: number[];
    expectedHostname?: string;
    vip?: string;
    vipPrefixLength?: number;
    vipInterface?: string;
    kubernetesMinor?: number;
    maxSkewMs?: number;
    warnSkewMs?: number;
    minFreeDiskMiB?: number;
  };
}

export interface CheckResult {
  host: string;
  check: PreflightCheckId | 'unique-identity';
  status: CheckStatus;
  message: string;
  /** Facts behind the verdict (versions, values); shown by --json and used by cross-host checks. */
  facts?: Record<string, string | number | boolean | string[]>;
}

export interface HostPlan<S> {
  target: HostTarget;
  steps: S[];
}

export interface PreflightPlan {
  cluster: string;
  kubernetesVersion: string;
  hosts: HostPlan<CheckSpec>[];
}

export interface PreflightReport {
  cluster: string;
  results: CheckResult[];
  summary: Record<CheckStatus, number>;
  ok: boolean;
}

export type StepState = 'pending' | 'running' | 'done' | 'warn' | 'failed' | 'skipped';

/** What the `progress` query returns: enough for the CLI to draw one line per host. */
export interface Progress {
  operation: string;
  cluster: string;
  phase: string;
  hosts: { name: string; steps: { id: string; title: string; state: StepState; message?: string }[] }[];
  done: boolean;
  /** Gates waiting for a person (runbook runs): a failed step's decision, an approval. */
  waiting?: Waiting[];
}

export interface PreflightInput {
  inventory: Inventory;
}
