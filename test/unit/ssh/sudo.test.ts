import { describe, expect, it } from 'vitest';
import { FailureType } from '../../../src/errors.js';
import { SudoUnavailableError, sudoProblem } from '../../../src/ssh/sudo.js';

// Messages as sudo 1.9.13 (Debian 12) and dash/bash print them.
describe('sudoProblem', () => {
  it('explains a password prompt that -n refused', () => {
    const m = sudoProblem('ops', 1, 'sudo: a password is required\n');
    expect(m).toMatch(/ops needs a password for sudo/);
    expect(m).toMatch(/NOPASSWD/);
  });

  it('explains a missing sudo', () => {
    expect(sudoProblem('ops', 127, 'sh: 1: sudo: not found\n')).toMatch(/sudo is not installed/);
    expect(sudoProblem('ops', 127, 'bash: line 1: sudo: command not found\n')).toMatch(/sudo is not installed/);
  });

  it('explains a sudoers rule that does not allow sh', () => {
    const m = sudoProblem('ops', 1, "Sorry, user ops is not allowed to execute '/usr/bin/sh -c true' as root on h1.\n");
    expect(m).toMatch(/may not run "sh -c" as root/);
  });

  it('falls back to the redacted tail of anything else', () => {
    expect(sudoProblem('ops', 1, 'weird --password hunter2\n')).toBe(
      '"sudo -n true" failed for ops (exit 1): weird --password [redacted]; ' +
        'give ops passwordless sudo (a line "ops ALL=(ALL:ALL) NOPASSWD: ALL" in /etc/sudoers.d/) or log in as root',
    );
  });

  it('is not retryable', () => {
    const e = new SudoUnavailableError('h1', 'x');
    expect(e.type).toBe(FailureType.HostNotSuitable);
    expect(e.retryable).toBe(false);
    expect(e.message).toBe('h1: sudo: x');
  });
});
