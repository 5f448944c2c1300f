// The first thing every workflow does: accept its input only if it is what the CLI would have sent. History is
// not trusted: anyone with write access to the Temporal namespace can start a workflow, and input decides which
// hosts the worker connects to and sends keys to. So the input must
//   - have come encrypted with the codec keyring (the worker's codec wraps anything else, src/codec/unencrypted.ts;
//     with KUBEADM2HA_CODEC=off nothing is wrapped and plaintext is accepted, as the operator asked), and
//   - pass the same zod schema and cross-field rules (errors, not warnings) as `kubeadm2ha … -i inventory`.
// Anything else ends the run with a non-retryable InvalidInput saying why. A thrown plain Error would fail the
// workflow task instead, which Temporal retries forever. Validation adds no workflow commands, so recorded
// histories replay unchanged.
import { ApplicationFailure } from '@temporalio/workflow';
import { z } from 'zod';
import { isUnencrypted, UNENCRYPTED } from '../codec/unencrypted.js';
import { FailureType } from '../errors.js';
import { formatPath } from '../inventory/locate.js';
import { checkRules, ruleView } from '../inventory/rules.js';
import { ImageSource, Inventory, KubernetesVersion } from '../inventory/schema.js';
import { ADDONS } from '../templates/addons/index.js';

const seconds = z.number().int().positive();
/** What a runbook run does when a step fails for good (src/plan/runbook.ts OnFailure). */
const onFailure = z.enum(['decide', 'abort']);

/** Each workflow's input, as the CLI builds it (the TypeScript interfaces next to each workflow describe the same). */
export const WorkflowInput = {
  preflightCluster: z.object({ inventory: Inventory }).strict(),
  setupEtcdCluster: z
    .object({
      inventory: Inventory,
      healthTimeoutSeconds: seconds.optional(),
      replaceCa: z.boolean().optional(),
      approveRemoval: z.boolean().optional(),
      onFailure: onFailure.optional(),
    })
    .strict(),
  checkCertificates: z.object({ inventory: Inventory, thresholdDays: z.number().int().min(0).optional() }).strict(),
  renewEtcdCertificates: z
    .object({ inventory: Inventory, healthTimeoutSeconds: seconds.optional(), onFailure: onFailure.optional() })
    .strict(),
  snapshotEtcd: z.object({ inventory: Inventory, onFailure: onFailure.optional() }).strict(),
  setupCluster: z
    .object({ inventory: Inventory, onFailure: onFailure.optional(), approveRemoval: z.boolean().optional() })
    .strict(),
  manageAddon: z
    .object({
      inventory: Inventory,
      // Only catalogue names reach the planner; a retired one is refused there with its reason.
      addon: z.enum(ADDONS.map((a) => a.name) as [string, ...string[]]),
      action: z.enum(['apply', 'remove']),
      wait: z.boolean().optional(),
      timeoutSeconds: seconds.optional(),
      deleteData: z.boolean().optional(),
      onFailure: onFailure.optional(),
    })
    .strict(),
  transferImages: z
    .object({
      inventory: Inventory,
      version: KubernetesVersion.optional(),
      images: z
        .array(
          z.object({ ref: z.string().min(1).max(512), source: z.string(), on: z.enum(['masters', 'nodes']) }).strict(),
        )
        .optional(),
      source: ImageSource.optional(),
      fanOut: z.number().int().min(1).max(16).optional(),
      onFailure: onFailure.optional(),
    })
    .strict(),
  upgradeCluster: z
    .object({
      inventory: Inventory,
      target: z.string().regex(/^\d+\.\d+\.\d+$/),
      workerBatch: z
        .union([
          z.object({ count: z.number().int().positive() }).strict(),
          z.object({ percent: z.number().positive().max(100) }).strict(),
        ])
        .optional(),
      approveEach: z.boolean().optional(),
      approved: z.boolean().optional(),
      drainTimeoutSeconds: seconds.optional(),
      healthTimeoutSeconds: seconds.optional(),
      onFailure: onFailure.optional(),
    })
    .strict(),
  uninstallCluster: z
    .object({ inventory: Inventory, purgePackages: z.boolean().optional(), onFailure: onFailure.optional() })
    .strict(),
  restoreEtcdSnapshot: z
    .object({
      inventory: Inventory,
      // A file on the worker's machine; the activity checks it is absolute and its checksum before anything else.
      snapshot: z
        .object({
          path: z.string().startsWith('/'),
          sha256: z
            .string()
            .regex(/^[0-9a-f]{64}$/)
            .optional(),
        })
        .strict(),
      healthTimeoutSeconds: seconds.optional(),
      onFailure: onFailure.optional(),
    })
    .strict(),
} as const;
export type WorkflowName = keyof typeof WorkflowInput;

/** Child workflows: their input comes from a run's own code, never from a client; each refuses to run unless it is
 * a child and its input came encrypted (src/plan/scale.ts says when a run starts them). */
export const CHILD_WORKFLOWS = ['runbookBatch', 'preflightHosts'] as const;
type Accepted = { [W in WorkflowName]: z.output<(typeof WorkflowInput)[W]> };

/** At most this many problems in the failure message; the rest are counted. */
const SHOWN = 10;

/** The validated input (schema defaults applied), or a non-retryable InvalidInput failure. */
export function acceptInput<W extends WorkflowName>(workflow: W, input: unknown): Accepted[W] {
  if (isUnencrypted(input)) {
    throw ApplicationFailure.nonRetryable(
      `${workflow}: refused input that arrived unencrypted (${UNENCRYPTED}): this worker runs only what a client ` +
        `with its codec keyring started. Start runs with kubeadm2ha and the same KUBEADM2HA_CODEC_KEYRING as the ` +
        `worker (or KUBEADM2HA_CODEC=off on both, for debugging only)`,
      FailureType.InvalidInput,
    );
  }
  const parsed = WorkflowInput[workflow].safeParse(input);
  const problems = parsed.success
    ? checkRules(ruleView((input as { inventory: unknown }).inventory, parsed.data.inventory))
        .filter((f) => f.severity === 'error')
        .map((f) => `inventory.${formatPath(f.path)}: ${f.message}`)
    : parsed.error.issues.map(
        (i) => `${formatPath(i.path.filter((k) => typeof k !== 'symbol')) || '(input)'}: ${i.message}`,
      );
  if (!parsed.success || problems.length > 0) {
    const more = problems.length > SHOWN ? `; and ${problems.length - SHOWN} more` : '';
    throw ApplicationFailure.nonRetryable(
      `${workflow}: invalid input: ${problems.slice(0, SHOWN).join('; ')}${more}`,
      FailureType.InvalidInput,
    );
  }
  // safeParse of WorkflowInput[W] gives the union of every output; it is W's one.
  return parsed.data as Accepted[W];
}
