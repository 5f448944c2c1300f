// The CLI's one failure printer (src/cli.ts) shows control characters from a failure's text (an inventory path, a
// host's stderr) as visible \xHH escapes, never as escape sequences the terminal would obey.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');

describe('the top-level failure line', () => {
  it('escapes control characters in the failure message', { timeout: 90_000 }, async () => {
    const hostile = '/tmp/k2h-nope\x1b[2J\x1b]0;owned\x07\u009b31m.yaml';
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(root, 'bin/kubeadm2ha.js'), 'preflight', '-i', hostile],
        { cwd: root, env: { ...process.env, KUBEADM2HA_FROM_SOURCE: '1' } },
        (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
      );
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/tmp/k2h-nope\\x1b[2J\\x1b]0;owned\\x07\\x9b31m.yaml');
    // eslint-disable-next-line no-control-regex
    expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });
});
