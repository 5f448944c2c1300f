// `kubeadm2ha worker` with a bad flag, as a user meets it: it printed "this is a bug" and never exited (the Temporal
// connection it had opened kept the process alive). Now: a clear error and exit 2, within a deadline.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { temporalAddress } from './helpers.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'kubeadm2ha.js');

function cli(args: string[], deadlineMs: number): Promise<{ code: number | null; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: root, env: { ...process.env, KUBEADM2HA_FROM_SOURCE: '1' }, timeout: deadlineMs, killSignal: 'SIGKILL' },
      (err, _stdout, stderr) =>
        resolve({ code: err ? (err.killed ? null : Number(err.code ?? 1)) : 0, stderr, ms: performance.now() - t0 }),
    );
  });
}

describe('worker command flags', () => {
  it.each(['abc', '0', '-3', '1.5', ''])(
    '--max-concurrent-activities %j exits 2 with a clear error',
    async (v) => {
      const r = await cli(['worker', '--address', temporalAddress(), '--max-concurrent-activities', v], 60_000);
      expect(r.code, `${r.stderr} (${Math.round(r.ms)} ms)`).toBe(2);
      expect(r.stderr).toContain(
        `--max-concurrent-activities must be a whole number of at least 1, not ${JSON.stringify(v)}`,
      );
      expect(r.stderr).not.toMatch(/bug/);
    },
    90_000,
  );
});
