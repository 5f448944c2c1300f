// What the Web UI shows on a run's page as its current details (Temporal renders them as Markdown): the phase,
// how many hosts are through, and for every gate that waits for a person the host, step and error, and exactly how
// to answer it — the CLI command, and the Web UI signal name with its JSON payload (src/workflows/messages.ts).
// Pure and workflow-safe: the workflow renders it from its progress state whenever that changes.
import type { Waiting } from './gates.js';
import { ONCE } from './runbook.js';
import type { Progress, StepState } from './types.js';

const finished: StepState[] = ['done', 'warn', 'failed', 'skipped'];

/** Inline code in Markdown: backticks inside would end it early, so the fence is longer than any run of them. */
function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${longest ? ` ${text} ` : text}${fence}`;
}

function waitingLines(cluster: string, w: Waiting): string[] {
  if (w.kind === 'decide') {
    const actions = ['retry', ...(w.maySkip ? ['skip'] : []), ...(w.mayRollback ? ['rollback'] : []), 'abort'];
    // A cluster-wide step waits under the host name ONCE (`cluster`), which is also what `decide --host` takes.
    const once = w.host === ONCE;
    return [
      once ? `### Waiting for a decision: cluster-wide step ${w.step}` : `### Waiting for a decision: ${w.host}`,
      `- ${once ? 'cluster-wide' : `host: **${w.host}**,`} step: **${w.step}** (phase ${w.phase}), since ${w.since}`,
      `- error: ${code(w.error)}`,
      `- CLI: ${code(`kubeadm2ha decide ${cluster} ${actions.join('|')} --host ${w.host} [--reason "…"]`)}`,
      `- Web UI: Send Signal ${code('decide')} with ${code(JSON.stringify({ action: 'retry', host: w.host, reason: '…' }))} (action: ${actions.join(', ')})`,
      // Step-specific retries (a blocked drain's wait-longer and evict-anyway).
      ...(w.options ?? []).map(
        (o) =>
          `- retry option **${o.name}**: ${o.title}: ${code(`kubeadm2ha decide ${cluster} retry --option ${o.name} --host ${w.host}`)} or the signal with ${code(JSON.stringify({ action: 'retry', option: o.name, host: w.host }))}`,
      ),
    ];
  }
  const target = { phase: w.phase, ...(w.host !== undefined && { host: w.host }) };
  return [
    `### Waiting for approval: ${w.phase}${w.host ? ` on ${w.host}` : ''}`,
    `- phase: **${w.phase}**${w.host ? `, host: **${w.host}**` : ''}, since ${w.since}${w.deadline ? `, until ${w.deadline} (then it waits for a decision)` : ''}`,
    `- CLI: ${code(`kubeadm2ha approve ${cluster} --phase ${w.phase}${w.host ? ` --host ${w.host}` : ''} [--reason "…"]`)}`,
    `- Web UI: Send Signal ${code('approve')} with ${code(JSON.stringify({ ...target, reason: '…' }))}`,
  ];
}

export function runDetails(p: Progress): string {
  // Cluster-wide steps are listed in progress under the host name ONCE: they are the cluster's, not a host's.
  const hosts = p.hosts.filter((h) => h.name !== ONCE);
  const once = p.hosts.find((h) => h.name === ONCE)?.steps ?? [];
  const through = hosts.filter((h) => h.steps.every((s) => finished.includes(s.state))).length;
  const failed = hosts.filter((h) => h.steps.some((s) => s.state === 'failed')).map((h) => h.name);
  const failedOnce = once.filter((s) => s.state === 'failed').map((s) => s.title);
  const counts: string[] = [];
  if (hosts.length || !once.length)
    counts.push(`hosts done: ${through}/${hosts.length}${failed.length ? ` (failed: ${failed.join(', ')})` : ''}`);
  if (once.length)
    counts.push(
      `cluster-wide steps done: ${once.filter((s) => finished.includes(s.state)).length}/${once.length}` +
        (failedOnce.length ? `; cluster step failed: ${failedOnce.join(', ')}` : ''),
    );
  // A blank line between them: Markdown joins adjacent lines into one.
  const lines = [
    `**${p.operation}** of cluster **${p.cluster}**: ${p.done ? 'finished' : `phase **${p.phase}**`}`,
    '',
    counts.join('\n\n'),
  ];
  for (const w of p.waiting ?? []) lines.push('', ...waitingLines(p.cluster, w));
  return lines.join('\n');
}
