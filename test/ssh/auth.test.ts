// Credentials against a real sshd: an ssh-agent holding the key, the default ~/.ssh key, a key the host does not
// accept, an unreadable or passphrase-protected key file. Bad credentials are final (not retryable) and say why.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lab/index.js';
import { AuthFailedError, FailureType } from '../../src/errors.js';
import { labPool, pollUntil, target } from './helpers.js';
import { access } from 'node:fs/promises';

let lab: Lab;
let agent: ChildProcess | undefined;
let agentSocket: string;

beforeAll(async () => {
  lab = await createLab({ hosts: 1, prepared: false });
  // A private agent for this file (never the operator's): -D keeps it in the foreground, so it is our child.
  agentSocket = join(lab.dir, 'agent.sock');
  agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
  await pollUntil(() => access(agentSocket).then(() => true), 'ssh-agent socket');
  execFileSync('ssh-add', ['-q', lab.privateKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket } });
});
afterAll(async () => {
  agent?.kill();
  await lab?.destroy();
});

const key = (name: string, passphrase = ''): string => {
  const file = join(lab.dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', file]);
  return file;
};

describe('authentication', () => {
  it('uses ssh-agent when no key file is named', async () => {
    const pool = await labPool(lab, { identityFile: undefined, useAgent: true }, { agentSocket });
    try {
      expect((await pool.session(target(lab, 'h1')).run(['hostname'])).stdout).toBe('h1\n');
    } finally {
      await pool.closeAll();
    }
  });

  it('falls back to the default ~/.ssh key when no key file is named and there is no agent', async () => {
    const home = join(lab.dir, 'home-with-key');
    await mkdir(join(home, '.ssh'), { recursive: true, mode: 0o700 });
    await copyFile(lab.privateKeyPath, join(home, '.ssh', 'id_ed25519'));
    const pool = await labPool(lab, { identityFile: undefined, useAgent: false }, { homeDir: home });
    try {
      expect((await pool.session(target(lab, 'h1')).run(['true'])).code).toBe(0);
    } finally {
      await pool.closeAll();
    }
  });

  it('reports a key the host does not accept as AuthFailed, not retryable', async () => {
    const pool = await labPool(lab, { identityFile: key('stranger'), useAgent: false });
    try {
      const err = await pool
        .session(target(lab, 'h1'))
        .run(['true'])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthFailedError);
      expect((err as AuthFailedError).type).toBe(FailureType.AuthFailed);
      expect((err as AuthFailedError).retryable).toBe(false);
      expect((err as Error).message).toMatch(/^h1: authentication failed: .*accepted none of the offered keys/);
    } finally {
      await pool.closeAll();
    }
  });

  it('names the problem with a missing or passphrase-protected key file before connecting', async () => {
    const missing = await labPool(lab, { identityFile: join(lab.dir, 'no-such-key'), useAgent: false });
    await expect(missing.session(target(lab, 'h1')).run(['true'])).rejects.toThrow(
      /h1: authentication failed: cannot read identity file .*no-such-key: ENOENT/,
    );
    const locked = await labPool(lab, { identityFile: key('locked', 'a passphrase'), useAgent: false });
    await expect(locked.session(target(lab, 'h1')).run(['true'])).rejects.toThrow(/is encrypted.*ssh-agent/);
    expect(missing.stats()[0]?.connects ?? 0).toBe(0);
  });
});
