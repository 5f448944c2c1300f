// Live progress of an operation, drawn from the workflow's `progress` query: one line per host on a terminal
// (redrawn in place), or one line per finished step when output is a pipe or a CI log.
import { describeWaiting } from '../plan/gates.js';
import type { Progress, StepState } from '../plan/types.js';
import { forTerminal } from './terminal-text.js';

const mark: Record<StepState, string> = {
  pending: '·',
  running: '▸',
  done: '✓',
  warn: '!',
  failed: '✗',
  skipped: '-',
};

export function hostLine(host: Progress['hosts'][number], width: number): string {
  const finished = host.steps.filter((s) => s.state !== 'pending' && s.state !== 'running').length;
  const running = host.steps.find((s) => s.state === 'running');
  const fails = host.steps.filter((s) => s.state === 'failed').length;
  const warns = host.steps.filter((s) => s.state === 'warn').length;
  const marks = host.steps.map((s) => mark[s.state]).join('');
  let tail = running ? `running: ${running.title}` : finished === host.steps.length ? 'finished' : 'waiting';
  if (fails) tail += `, ${fails} failed`;
  if (warns) tail += `, ${warns} warning${warns > 1 ? 's' : ''}`;
  return `${host.name.padEnd(width)}  ${marks}  ${finished}/${host.steps.length}  ${tail}`;
}

/** The progress block, each line safe for a terminal (step titles and messages can quote host output). */
export function renderProgress(p: Progress): string[] {
  const width = Math.max(4, ...p.hosts.map((h) => h.name.length));
  return [
    `${p.operation} ${p.cluster}: ${p.phase}`,
    ...p.hosts.map((h) => hostLine(h, width)),
    ...describeWaiting(p.cluster, p.waiting ?? []).map((l) => `WAITING ${l}`),
  ].map(forTerminal);
}

/** Draws progress snapshots. On a TTY it rewrites its previous block; elsewhere it prints step transitions once. */
export class ProgressView {
  private drawn = 0;
  private readonly seen = new Map<string, StepState>();
  private waiting = '';

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly tty = Boolean(out.isTTY),
  ) {}

  update(p: Progress): void {
    if (this.tty) {
      const lines = renderProgress(p);
      if (this.drawn) this.out.write(`\x1b[${this.drawn}F\x1b[0J`);
      this.out.write(lines.join('\n') + '\n');
      this.drawn = lines.length;
      return;
    }
    for (const h of p.hosts) {
      for (const s of h.steps) {
        const key = `${h.name}/${s.id}`;
        if (s.state === 'pending' || s.state === 'running' || this.seen.get(key) === s.state) continue;
        this.seen.set(key, s.state);
        this.out.write(`${forTerminal(`${h.name} ${mark[s.state]} ${s.title}${s.message ? `: ${s.message}` : ''}`)}\n`);
      }
    }
    // A run waiting for a person says so once, with the command that lets it go on.
    const waiting = describeWaiting(p.cluster, p.waiting ?? []).join('\n');
    if (waiting && waiting !== this.waiting)
      this.out.write(`${forTerminal(`WAITING ${waiting.replaceAll('\n', '\nWAITING ')}`)}\n`);
    this.waiting = waiting;
  }
}
