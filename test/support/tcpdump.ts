// A packet capture on one interface of the root namespace, counting what matches a filter: how tests prove that
// lab traffic stays inside the lab (a capture that also sees the expected traffic proves it works).
import { spawn } from 'node:child_process';
import { pollUntil } from './poll.js';

export interface Capture {
  /** Resolves once tcpdump listens. */
  listening: Promise<unknown>;
  /** Stops the capture; resolves to the number of packets captured. */
  stop(): Promise<number>;
}

export function capture(dev: string, filter: string): Capture {
  const p = spawn('tcpdump', ['-ni', dev, '-p', '--immediate-mode', filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const listening = pollUntil(() => err.includes('listening on'), `tcpdump on ${dev}`, 10_000);
  return {
    listening,
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
