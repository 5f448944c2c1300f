// The preflight transport batch (src/activities/preflight-batch.ts): probes that reach one host together share one
// remote shell, and each caller still gets exactly its own output. The shell framing runs in a real /bin/sh here; the
// host session is a stand-in that runs scripts locally.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { batchScript, ProbeBatcher, splitBatchOutput } from '../../../src/activities/preflight-batch.js';
import { CommandFailedError } from '../../../src/errors.js';
import type { Command, RunOptions, RunResult } from '../../../src/ssh/exec.js';
import type { HostSession } from '../../../src/ssh/session.js';

const sh = async (script: string) => {
  try {
    const { stdout, stderr } = await promisify(execFile)('sh', ['-c', script]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
};

/** Stand-in session: runs the script with the local /bin/sh and counts the round trips. */
function localSession(): HostSession & { runs: string[] } {
  const runs: string[] = [];
  return {
    name: 'h1',
    runs,
    async run(command: Command, opts: RunOptions = {}): Promise<RunResult> {
      const script = (command as { script: string }).script;
      runs.push(script);
      const r = await sh(script);
      if (r.code !== 0 && !opts.allowNonZero) throw new CommandFailedError('h1', opts.action ?? 'sh', r.code, r.stderr);
      return { ...r, durationMs: 1 };
    },
    putFile: () => Promise.reject(new Error('unused')),
    getFile: () => Promise.reject(new Error('unused')),
    putStream: () => Promise.reject(new Error('unused')),
    downloadFile: () => Promise.reject(new Error('unused')),
  };
}

describe('preflight probe batches', () => {
  it('frames each probe, whatever its output ends with, and reads back output and exit code', async () => {
    const scripts = ['echo a=1; echo b=2', 'printf "no newline"', 'true', 'echo x; exit 3', '. /dev/null; echo "v=$X"'];
    const { stdout } = await sh(batchScript(scripts, 'n0nce'));
    const parts = splitBatchOutput(stdout, 'n0nce', scripts.length);
    expect(parts.get(0)).toEqual({ out: 'a=1\nb=2\n', code: 0 });
    expect(parts.get(1)).toEqual({ out: 'no newline', code: 0 });
    expect(parts.get(2)).toEqual({ out: '', code: 0 });
    expect(parts.get(3)).toEqual({ out: 'x\n', code: 3 });
    expect(parts.get(4)).toEqual({ out: 'v=\n', code: 0 });
  });

  it('leaves out a probe whose frame was cut', () => {
    const parts = splitBatchOutput('@@n begin 0\nhalf a line', 'n', 1);
    expect(parts.size).toBe(0);
  });

  it('runs probes that arrive together in one round trip, each answered with its own output', async () => {
    const session = localSession();
    const batcher = new ProbeBatcher(5);
    const outs = await Promise.all(
      ['echo one', 'echo two', 'echo three'].map((s) => batcher.run('h1', session, s, { action: 'probe' })),
    );
    expect(outs.map((o) => o.stdout)).toEqual(['one\n', 'two\n', 'three\n']);
    expect(session.runs).toHaveLength(1);
  });

  it('runs a failing probe again alone, so its error is the one it always had', async () => {
    const session = localSession();
    const batcher = new ProbeBatcher(5);
    const [ok, failed] = await Promise.allSettled([
      batcher.run('h1', session, 'echo fine', { action: 'probe a' }),
      batcher.run('h1', session, 'echo broken >&2; exit 4', { action: 'probe b' }),
    ]);
    expect(ok).toMatchObject({ status: 'fulfilled', value: { stdout: 'fine\n' } });
    expect(failed.status).toBe('rejected');
    expect(String((failed as PromiseRejectedResult).reason)).toContain('broken');
    expect(session.runs).toHaveLength(2);
  });

  it('keeps hosts apart', async () => {
    const [a, b] = [localSession(), localSession()];
    const batcher = new ProbeBatcher(5);
    await Promise.all([batcher.run('h1', a, 'echo 1', {}), batcher.run('h2', b, 'echo 2', {})]);
    expect([a.runs.length, b.runs.length]).toEqual([1, 1]);
  });
});
