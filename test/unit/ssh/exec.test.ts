import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CommandFailedError, CommandTimeoutError, InvalidInputError } from '../../../src/errors.js';
import { buildCommand, timedOut, toRunResult, type RawResult } from '../../../src/ssh/exec.js';
import { localShell } from './local-shell.js';

const raw = (over: Partial<RawResult>): RawResult => ({
  code: 0,
  stdout: Buffer.from('out'),
  stderr: Buffer.alloc(0),
  durationMs: 10,
  ...over,
});

/** Run a command line with the real local sh and return its stdout. */
const sh = (line: string): string => execFileSync('sh', ['-c', line], { encoding: 'utf8' });

describe('buildCommand', () => {
  it('puts timeout inside sudo and env inside timeout', () => {
    const line = buildCommand(['id', '-u'], { sudo: true, env: { A: 'x y' }, timeoutMs: 1500 });
    expect(line).toBe(`sudo -n -- sh -c 'timeout -k 2 1.500 env '\\''A=x y'\\'' id -u'`);
  });

  it('keeps every argv element intact through env, timeout and sh -c', () => {
    const argv = ['printf', '%s|', "it's", '$(id)', 'a\nb', '-n', '*', ''];
    const line = buildCommand(argv, { env: { K: '`v`' }, timeoutMs: 5000 });
    expect(sh(line)).toBe("it's|$(id)|a\nb|-n|*||");
    expect(sh(buildCommand(['sh', '-c', 'printf %s "$K"'], { env: { K: '`v`' } }))).toBe('`v`');
  });

  it('runs scripts with sh -c', () => {
    expect(sh(buildCommand({ script: 'a=1; echo "$a$((a+1))"' }, { timeoutMs: 5000 }))).toBe('12\n');
  });

  it('refuses bad environment names and timeouts', () => {
    expect(() => buildCommand(['true'], { env: { 'A;B': '1' } })).toThrow(InvalidInputError);
    expect(() => buildCommand(['true'], { timeoutMs: 0 })).toThrow(InvalidInputError);
    expect(() => buildCommand(['true'], { timeoutMs: Number.NaN })).toThrow(InvalidInputError);
  });
});

describe('judging results', () => {
  it('treats exit 124 / KILL after the deadline as a timeout, not before it', () => {
    expect(timedOut(raw({ code: 124, durationMs: 1000 }), 1000)).toBe(true);
    expect(timedOut(raw({ code: null, signal: 'KILL', durationMs: 3100 }), 1000)).toBe(true);
    expect(timedOut(raw({ code: 124, durationMs: 50 }), 1000)).toBe(false);
    expect(timedOut(raw({ code: 1, durationMs: 5000 }), 1000)).toBe(false);
    expect(() =>
      toRunResult('h1', raw({ code: 124, durationMs: 1000 }), 'x', { allowNonZero: true, timeoutMs: 1000 }),
    ).toThrow(CommandTimeoutError);
    expect(
      toRunResult('h1', raw({ code: 124, durationMs: 5 }), 'x', { allowNonZero: true, timeoutMs: 1000 }).code,
    ).toBe(124);
  });

  it('carries a redacted stderr tail and the signal in CommandFailedError', () => {
    const stderr = Buffer.from('line1\nkubeadm join --token abcdef.0123456789abcdef\n');
    try {
      toRunResult('h1', raw({ code: null, signal: 'TERM', stderr }), 'kubeadm join');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CommandFailedError);
      const e = err as CommandFailedError;
      expect(e.stderrTail).toContain('--token [redacted]');
      expect(e.stderrTail).not.toContain('0123456789abcdef');
      expect(e.stderrTail).toMatch(/killed by SIGTERM$/);
      expect(e.message).toMatch(/^h1: kubeadm join: exit signal/);
    }
  });
});

describe('the timeout wrapper on a real shell (local stand-in for a host)', () => {
  it('kills the whole command, children included, and reports CommandTimeoutError', async () => {
    const host = localShell();
    // Durations unique to this run, so the check below cannot see someone else's sleep on a shared machine.
    const a = `40.${process.pid}1`;
    const b = `40.${process.pid}2`;
    const started = performance.now();
    await expect(
      host.run({ script: `sleep ${a} & sleep ${b}; echo done` }, { timeoutMs: 300, action: 'nap' }),
    ).rejects.toThrow(CommandTimeoutError);
    expect(performance.now() - started).toBeLessThan(5000);
    // Both sleeps were in timeout's process group and got its TERM.
    const deadline = Date.now() + 5000;
    let left = '';
    do {
      left = execFileSync('sh', ['-c', `ps -eo args | grep -E '^sleep (${a}|${b})$' || true`], { encoding: 'utf8' });
    } while (left !== '' && Date.now() < deadline);
    expect(left).toBe('');
  });

  it('escalates to KILL for a command that ignores TERM', async () => {
    const host = localShell();
    await expect(host.run({ script: 'trap "" TERM; sleep 29' }, { timeoutMs: 200 })).rejects.toThrow(
      CommandTimeoutError,
    );
  });
});
