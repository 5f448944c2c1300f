// What every operation command needs before it can run: the Temporal options from flags and env, the local dev
// server started when the user did not point at another one, a client, and the worker mode.
import type { Command } from 'commander';
import { loadUiSecret, loginLink } from '../codec/ui-session.js';
import { InvalidInputError } from '../errors.js';
import type { OnFailure } from '../plan/runbook.js';
import {
  addTemporalOptions,
  createClient,
  createNativeConnection,
  resolveTemporalOptions,
  type TemporalFlags,
} from '../temporal/connection.js';
import { ensureLocalServer } from './commands/server.js';
import type { SshTrust } from '../activities/ssh-trust.js';
import type { OperationContext, WorkerMode } from './operation.js';

export interface OperationFlags extends TemporalFlags {
  json?: boolean;
  worker?: string;
  taskQueue?: string;
  restart?: boolean;
}

/** Flags shared by every operation command. */
export function addOperationOptions(cmd: Command): Command {
  return addTemporalOptions(cmd)
    .option('--json', 'print the result as JSON on stdout (progress goes to stderr)')
    .option('--worker <mode>', 'auto: embed a worker unless one is polling; embedded; external', 'auto')
    .option('--task-queue <name>', 'Temporal task queue of the workers', 'kubeadm2ha')
    .option('--restart', 'terminate a run of this operation that is still going, then start anew');
}

/** Flags of operations that run a runbook (they can fail a step and wait for a decision). */
export const DRY_RUN_READS_FACTS =
  'read the hosts (read-only; with --no-facts not even that) and print the runbook the workflow would execute ' +
  '(--json: exactly it); change nothing';

export function addRunbookOptions(
  cmd: Command,
  dryRun = 'print the runbook the workflow would execute (--json: exactly it), contact nothing',
): Command {
  return cmd
    .option('--dry-run', dryRun)
    .option(
      '--on-failure <mode>',
      'a step that fails for good: decide (wait for `kubeadm2ha decide`) or abort',
      'decide',
    );
}

export function onFailureFlag(v: string | undefined): OnFailure {
  if (v === undefined || v === 'decide' || v === 'abort') return v ?? 'decide';
  throw new InvalidInputError(`--on-failure must be decide or abort, not ${v}`);
}

/** `sshTrust`: for a worker this command embeds, from the inventory the operator gave it (src/activities/ssh-trust.ts). */
export async function operationContext(
  flags: OperationFlags,
  sshTrust?: SshTrust,
): Promise<{ ctx: OperationContext; close: () => Promise<void> }> {
  const mode = (flags.worker ?? 'auto') as WorkerMode;
  if (!['auto', 'embedded', 'external'].includes(mode))
    throw new InvalidInputError(`--worker must be auto, embedded or external, not ${mode}`);
  const opts = resolveTemporalOptions(flags);
  // The embedded default: our own dev server (SQLite + Web UI), started once and left running for the next command.
  await ensureLocalServer(flags);
  // Our own server's Web UI decodes for a logged-in browser: its links carry a one-time login.
  const uiSecret = opts.addressIsExplicit ? undefined : await loadUiSecret();
  const client = await createClient(opts);
  const ctx: OperationContext = {
    client,
    namespace: opts.namespace,
    taskQueue: flags.taskQueue ?? 'kubeadm2ha',
    uiBaseUrl: opts.uiUrl,
    ...(uiSecret ? { uiLink: (url: string) => loginLinkTo(url, uiSecret) } : {}),
    workerConnection: () => createNativeConnection(opts),
    workerMode: mode,
    restart: Boolean(flags.restart),
    json: Boolean(flags.json),
    out: process.stderr,
    ...(sshTrust && { sshTrust }),
  };
  return { ctx, close: () => client.connection.close() };
}

function loginLinkTo(url: string, secret: Buffer): string {
  const u = new URL(url);
  return loginLink(u.origin, secret, `${u.pathname}${u.search}`);
}
