// Progress state kept inside a workflow and served by the `progress` query. Plain data, deterministic.
import type { Waiting } from '../plan/gates.js';
import type { HostPlan, Progress, StepState } from '../plan/types.js';

export class ProgressTracker {
  private readonly state: Progress;
  /** Called after every change (the workflow shows the state as its current details in the Web UI). */
  onChange?: (p: Progress) => void;

  constructor(operation: string, cluster: string, hosts: HostPlan<{ id: string; title: string }>[]) {
    this.state = {
      operation,
      cluster,
      phase: 'starting',
      done: false,
      hosts: hosts.map((h) => ({
        name: h.target.name,
        steps: h.steps.map((s) => ({ id: s.id, title: s.title, state: 'pending' })),
      })),
    };
  }

  phase(phase: string): void {
    this.state.phase = phase;
    this.changed();
  }

  private changed(): void {
    this.onChange?.(this.state);
  }

  set(host: string, step: string, state: StepState, message?: string): void {
    const s = this.state.hosts.find((h) => h.name === host)?.steps.find((x) => x.id === step);
    if (!s) return;
    s.state = state;
    if (message !== undefined) s.message = message;
    this.changed();
  }

  /** Mark every step of a host that has not run yet. */
  skipRemaining(host: string, message: string): void {
    for (const s of this.state.hosts.find((h) => h.name === host)?.steps ?? []) {
      if (s.state === 'pending') {
        s.state = 'skipped';
        s.message = message;
      }
    }
    this.changed();
  }

  /** The gates waiting for a person right now (none: the field goes away). */
  setWaiting(waiting: Waiting[]): void {
    if (waiting.length) this.state.waiting = waiting;
    else delete this.state.waiting;
    this.changed();
  }

  /** One host's steps as they stand (a child workflow reports them back to its run). */
  hostSteps(host: string): Progress['hosts'][number]['steps'] {
    return this.state.hosts.find((h) => h.name === host)?.steps ?? [];
  }

  /** Take over a host's steps as a child workflow left them. */
  replaceHostSteps(host: string, steps: Progress['hosts'][number]['steps']): void {
    const h = this.state.hosts.find((x) => x.name === host);
    if (h) h.steps = steps;
    this.changed();
  }

  finish(): void {
    this.state.done = true;
    this.state.phase = 'done';
    this.changed();
  }

  snapshot(): Progress {
    return this.state;
  }
}
