// Throw-away keyring locations for codec unit tests (never the user's real config directory).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function tempKeyringDir(): Promise<{ dir: string; path: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-codec-'));
  return {
    dir,
    // One level deeper than the temp dir, so the test also sees the directory being created 0700.
    path: join(dir, 'config', 'codec-keyring.json'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The error `p` rejects with; fails the test if it resolves. */
export async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}
