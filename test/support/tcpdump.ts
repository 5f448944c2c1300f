// A packet capture on one interface of the root namespace, counting what matches a filter: how tests prove that
// lab traffic stays inside the lab (a capture that also sees the expected traffic proves it works).
import { spawn } from 'node:child_process';
import { pollUntil } from './poll.js';

export interface Capture {
  /** Resolves once tcpdump listens. */
  listening: Promise<unknown>;
  /** Stops the capture; resolves to the number of packets captured. */
  stop(): Promise<number>;
  /** The first packets as tcpdump prints them (up to 20): what a count that should be 0 caught. */
  printed: string[];
}

export function capture(dev: string, filter: string): Capture {
  const p = spawn('tcpdump', ['-ni', dev, '-p', '--immediate-mode', '-l', filter], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const printed: string[] = [];
  let partial = '';
  p.stdout.on('data', (d: Buffer) => {
    if (printed.length >= 20) return;
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    printed.push(...lines.slice(0, 20 - printed.length));
  });
  const listening = pollUntil(() => err.includes('listening on'), `tcpdump on ${dev}`, 10_000);
  return {
    listening,
    printed,
    async stop() {
      if (p.exitCode === null) {
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGINT');
        await exited;
      }
      return Number(/(\d+) packets? captured/.exec(err)?.[1] ?? NaN);
    },
  };
}
