// What a noisy, slow or hostile host can do to the worker over SSH, bounded: output is capped to its tail (and
// says so), a bastion that never forwards fails within the connect timeout, and a cancelled command is killed on
// the host (its whole process group), so a retry cannot overlap the attempt it replaces. Real sshd on lab hosts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandFailedError, HostUnreachableError } from '../../src/errors.js';
import { createLab, type Lab } from '../../lab/index.js';
import { MAX_STDOUT_BYTES } from '../../src/ssh/exec.js';
import type { SshPool } from '../../src/ssh/index.js';
import { countProcesses, labPool, pollUntil, target } from './helpers.js';

let lab: Lab;
let pool: SshPool;

beforeAll(async () => {
  lab = await createLab({ hosts: 3, prepared: false });
  pool = await labPool(lab);
});
afterAll(async () => {
  await pool?.closeAll();
  await lab?.destroy();
});

const MIB = 1 << 20;

describe('SSH output, bastion and cancellation limits', () => {
  it('a host printing 50 MiB is cut to the last 1 MiB of stdout, the tail kept and the cut reported', async () => {
    const s = pool.session(target(lab, 'h1'));
    let peak = 0;
    const base = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss - base)), 20);
    try {
      const r = await s.run({ script: 'head -c 52428800 /dev/zero | tr "\\000" x; echo; echo THE-END' });
      expect(r.stdout.length).toBe(MAX_STDOUT_BYTES);
      expect(r.stdout.endsWith('x\nTHE-END\n')).toBe(true);
      expect(r.stdoutCutBytes).toBe(50 * MIB + '\nTHE-END\n'.length - MAX_STDOUT_BYTES);
    } finally {
      clearInterval(sampler);
    }
    console.log(`50 MiB of stdout: worker RSS grew by at most ${(peak / MIB).toFixed(1)} MiB while reading it`);
    // Buffering it all (the old way) holds 50 MiB plus a 50 MiB concatenated copy; GC noise stays well below this.
    expect(peak).toBeLessThan(75 * MIB);
  }, 120_000);

  it('a failing command with 50 MiB on stderr fails with its tail and says the output was cut', async () => {
    const s = pool.session(target(lab, 'h1'));
    const err = await s
      .run({ script: 'head -c 52428800 /dev/zero | tr "\\000" y >&2; echo; echo last-words >&2; exit 3' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(CommandFailedError);
    const msg = (err as Error).message;
    expect(msg).toContain('last-words');
    expect(msg).toMatch(/output cut to its tail; stderr: first \d+ bytes cut/);
    expect(msg.length).toBeLessThan(64 * 1024);
  }, 120_000);

  it('a larger stdout is kept when the caller asks for it explicitly', async () => {
    const r = await pool
      .session(target(lab, 'h1'))
      .run({ script: 'head -c 3145728 /dev/zero | tr "\\000" z' }, { maxStdoutBytes: 4 * MIB });
    expect(r.stdout.length).toBe(3 * MIB);
    expect(r.stdoutCutBytes).toBeUndefined();
  }, 60_000);

  it('a cancelled command is gone from the host, children included', async () => {
    const s = pool.session(target(lab, 'h2'));
    const abort = new AbortController();
    // A shell with a child: the whole process group must die, not just the command ssh started.
    const running = s.run({ script: 'sleep 313 & sleep 317; wait' }, { signal: abort.signal });
    const outcome = running.then(
      () => 'finished',
      (e: unknown) => e,
    );
    await pollUntil(
      async () =>
        (await countProcesses(lab, 'h2', 'sleep 313')) === 1 && (await countProcesses(lab, 'h2', 'sleep 317')) === 1,
      'both sleeps to run on h2',
      20_000,
    );
    const t0 = performance.now();
    abort.abort(new Error('activity cancelled'));
    expect(await outcome).toEqual(new Error('activity cancelled'));
    await pollUntil(
      async () => (await countProcesses(lab, 'h2', 'sleep 313')) + (await countProcesses(lab, 'h2', 'sleep 317')) === 0,
      'the cancelled command to be gone from h2',
      10_000,
    );
    console.log(`cancelled command gone from the host ${Math.round(performance.now() - t0)} ms after the abort`);
    // The connection is still good for the next command.
    expect((await s.run(['echo', 'still here'])).stdout).toBe('still here\n');
    // A cancellable command that is not cancelled: its pgid line never shows in its stderr.
    const plain = await s.run({ script: 'echo err >&2' }, { signal: new AbortController().signal });
    expect(plain.stderr).toBe('err\n');
  }, 60_000);

  it('a bastion that never forwards (the target drops SYNs) fails within the connect timeout', async () => {
    const h3 = lab.hosts[2]!;
    await lab.exec('h3', 'iptables -I INPUT -p tcp --dport 22 -j DROP');
    const p = await labPool(lab, { bastion: `root@${lab.hosts[0]!.address}`, connectTimeoutSeconds: 3 });
    try {
      const t0 = performance.now();
      const err = await p
        .session(target(lab, 'h3'))
        .run(['true'])
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      const ms = performance.now() - t0;
      console.log(`bastion that never forwards: failed after ${Math.round(ms)} ms (connect timeout 3000 ms)`);
      expect(err).toBeInstanceOf(HostUnreachableError);
      expect((err as Error).message).toMatch(
        new RegExp(`opened no connection to ${h3.address.replace(/\./g, '\\.')}:22 within 3000 ms`),
      );
      expect(ms).toBeLessThan(8_000);
    } finally {
      await p.closeAll();
      await lab.exec('h3', 'iptables -D INPUT -p tcp --dport 22 -j DROP');
    }
  }, 60_000);
});
