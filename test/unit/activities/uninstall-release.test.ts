// uninstall's release of the blobs an `images push` kept from containerd's GC is best-effort: RELEASE_SCRIPT's count
// is reported, and anything else it answers (a failure, no output, text that is not one count) becomes a warning in
// the step's result instead of silently counting as 0 (it was `Number(stdout) || 0`). The script itself is run for
// real here with the machine's ctr (containerd 1.6) against a socket that does not exist, and without ctr on the PATH.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { RELEASE_SCRIPT } from '../../../src/activities/images-host.js';
import { releasedBlobs } from '../../../src/activities/uninstall.js';

const run = async (env: NodeJS.ProcessEnv) => {
  try {
    const r = await promisify(execFile)('/bin/sh', ['-c', RELEASE_SCRIPT], { env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
};

describe('releasedBlobs (RELEASE_SCRIPT answer)', () => {
  it('a count is the count, 0 included, with no warning', () => {
    expect(releasedBlobs({ code: 0, stdout: '2\n', stderr: '' })).toEqual({ released: 2 });
    expect(releasedBlobs({ code: 0, stdout: '0\n', stderr: '' })).toEqual({ released: 0 });
  });

  it('output that is not one count is a warning that quotes it, not 0', () => {
    for (const stdout of ['', 'ctr: something\n', '2\n3\n', '-1', '2 blobs']) {
      const r = releasedBlobs({ code: 0, stdout, stderr: '' });
      expect(r.released).toBe(0);
      expect(r.warning).toMatch(/were not let go: the release printed .* instead of a count$/);
      if (stdout.trim()) expect(r.warning).toContain(JSON.stringify(stdout.trim().split('\n').join(' | ')));
      else expect(r.warning).toContain('printed nothing');
    }
  });

  it('a failed release is a warning with its exit status and the end of its stderr', () => {
    const r = releasedBlobs({ code: 1, stdout: '', stderr: 'line 1\nctr: failed to dial "/x.sock"\n' });
    expect(r.released).toBe(0);
    expect(r.warning).toMatch(/exited with 1: line 1 \| ctr: failed to dial "\/x\.sock"$/);
    expect(releasedBlobs({ code: null, stdout: '', stderr: '' }).warning).toMatch(/exited with a signal$/);
  });

  it('the real script: no ctr on the PATH is 0 without a warning; a containerd that does not answer is a warning', async () => {
    expect(releasedBlobs(await run({ PATH: '/nonexistent' }))).toEqual({ released: 0 });
    const down = releasedBlobs(
      await run({ PATH: process.env.PATH, CONTAINERD_ADDRESS: '/nonexistent/containerd.sock' }),
    );
    expect(down.released).toBe(0);
    expect(down.warning).toMatch(/exited with 1: .*nonexistent\/containerd\.sock/);
  });
});
