// Host-supplied text (an os-release PRETTY_NAME, stderr quoted in a check's message) must reach the terminal as
// visible text, never as escape sequences that clear the screen, move the cursor or set the window title.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { PreflightReport, Progress } from '../../../src/plan/types.js';
import { ProgressView, renderProgress } from '../../../src/cli/progress.js';
import { formatPreflightReport } from '../../../src/cli/report.js';
import { forTerminal } from '../../../src/cli/terminal-text.js';

// What a hostile host could put in /etc/os-release: clear screen, window title (OSC … BEL), carriage return, C1 CSI.
const hostile = 'Debian\x1b[2J\x1b]0;owned\x07\rfake ok\u009b31m';
// eslint-disable-next-line no-control-regex
const controls = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

function captured(tty: boolean): { out: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { out: Object.assign(w, { isTTY: tty }) as unknown as NodeJS.WriteStream, text: () => text };
}

const progress: Progress = {
  operation: 'preflight',
  cluster: 'lab',
  phase: 'checking hosts',
  hosts: [{ name: 'h1', steps: [{ id: 'os', title: 'supported OS', state: 'warn', message: hostile }] }],
} as Progress;

describe('host text on the terminal', () => {
  it('escapes every control character but newline and tab, visibly', () => {
    expect(forTerminal(hostile)).toBe('Debian\\x1b[2J\\x1b]0;owned\\x07\\x0dfake ok\\x9b31m');
    expect(forTerminal('line 1\n\tline 2')).toBe('line 1\n\tline 2');
  });

  it('progress lines (pipe and terminal) carry no control character from a step message', () => {
    const pipe = captured(false);
    new ProgressView(pipe.out).update(progress);
    expect(pipe.text()).toContain('supported OS: Debian\\x1b[2J');
    expect(pipe.text()).not.toMatch(controls);
    for (const line of renderProgress(progress)) expect(line).not.toMatch(controls);
  });

  it('the preflight report escapes a check message', () => {
    const report = {
      cluster: 'lab',
      ok: true,
      summary: { pass: 0, warn: 1, fail: 0 },
      results: [{ host: 'h1', check: 'os', status: 'warn', message: hostile }],
    } as PreflightReport;
    const text = formatPreflightReport(report);
    expect(text).toContain('Debian\\x1b[2J\\x1b]0;owned\\x07\\x0dfake ok');
    expect(text).not.toMatch(controls);
  });
});
