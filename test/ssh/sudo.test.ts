// A non-root login with `sudo: true`: commands, uploads and downloads run as root through `sudo -n`; a user whose
// sudo would ask for a password (or who has no sudo, or a host without sudo) gets a clear, non-retryable error at
// once, and nothing runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lab/index.js';
import { CommandTimeoutError, FailureType } from '../../src/errors.js';
import { SudoUnavailableError } from '../../src/ssh/sudo.js';
import type { SshPool } from '../../src/ssh/index.js';
import { countProcesses, labPool, pollUntil, target } from './helpers.js';

let lab: Lab;
const pools: SshPool[] = [];

beforeAll(async () => {
  lab = await createLab({ hosts: 1, prepared: false });
  // Homes under /var (private to the host; /home is the machine's own). '*' = no password but not locked, which
  // sshd without PAM requires for key logins.
  await lab.exec(
    'h1',
    [
      'set -e',
      'command -v sudo >/dev/null',
      'for u in ops ops2 ops3; do',
      '  useradd -m -d /var/lib/home-$u -s /bin/bash $u; usermod -p "*" $u',
      '  install -d -m 700 -o $u -g $u /var/lib/home-$u/.ssh',
      '  install -m 600 -o $u -g $u /root/.ssh/authorized_keys /var/lib/home-$u/.ssh/authorized_keys',
      'done',
      "echo 'ops ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/ops",
      "echo 'ops2 ALL=(ALL:ALL) ALL' > /etc/sudoers.d/ops2",
      'chmod 440 /etc/sudoers.d/ops /etc/sudoers.d/ops2',
    ].join('\n'),
  );
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.closeAll()));
  await lab?.destroy();
});

async function sessionAs(user: string, sudo: boolean) {
  const pool = await labPool(lab, { user, sudo });
  pools.push(pool);
  return pool.session(target(lab, 'h1'));
}

describe('sudo for a non-root login', () => {
  it('runs commands as root with sudo, as the user without', async () => {
    const root = await sessionAs('ops', true);
    expect((await root.run(['id', '-u'])).stdout).toBe('0\n');
    expect((await root.run({ script: 'id -un; echo "$X"' }, { env: { X: "it's" } })).stdout).toBe("root\nit's\n");
    const plain = await sessionAs('ops', false);
    expect((await plain.run(['id', '-un'])).stdout).toBe('ops\n');
  });

  it('writes root-owned files and reads root-only ones', async () => {
    const root = await sessionAs('ops', true);
    const path = '/etc/kubeadm2ha-sudo/secret.key';
    expect(await root.putFile(path, 'secret\n', { mode: 0o600 })).toEqual({ changed: true });
    expect((await lab.exec('h1', `stat -c '%a %U %G' ${path}`)).stdout).toBe('600 root root\n');
    expect(await root.putFile(path, 'secret\n', { mode: 0o600 })).toEqual({ changed: false });
    expect((await root.getFile(path)).toString()).toBe('secret\n');
    expect((await root.getFile('/etc/shadow')).toString()).toMatch(/^root:/);
  });

  it('kills a timed-out command that runs as root under sudo', async () => {
    const root = await sessionAs('ops', true);
    const nap = 'sleep 37.4713';
    const run = root.run({ script: nap }, { timeoutMs: 1000 }).catch((e: unknown) => e);
    await pollUntil(async () => (await countProcesses(lab, 'h1', nap)) > 0, 'the command to start', 5000);
    expect((await lab.exec('h1', `ps -o user= -p "$(pgrep -x -f 'sleep 37\\.4713')"`)).stdout.trim()).toBe('root');
    expect(await run).toBeInstanceOf(CommandTimeoutError);
    await pollUntil(async () => (await countProcesses(lab, 'h1', nap)) === 0, 'the command to be killed', 3000);
  });

  it('refuses at once, non-retryably, when sudo would ask for a password', async () => {
    const s = await sessionAs('ops2', true);
    const started = performance.now();
    const err = await s.run(['touch', '/tmp/sudo-ops2']).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(5000); // no hang on a password prompt
    expect(err).toBeInstanceOf(SudoUnavailableError);
    const e = err as SudoUnavailableError;
    expect(e.type).toBe(FailureType.HostNotSuitable);
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/^h1: sudo: ops2 needs a password for sudo.*NOPASSWD/);
    expect((await lab.exec('h1', 'test -e /tmp/sudo-ops2', { allowFail: true })).code).not.toBe(0);
    // putFile and getFile go through the same check.
    await expect(s.putFile('/tmp/sudo-ops2-file', 'x', { mode: 0o644 })).rejects.toThrow(SudoUnavailableError);
    await expect(s.getFile('/etc/hostname')).rejects.toThrow(SudoUnavailableError);
  });

  it('refuses a user sudoers does not know', async () => {
    const err = await (await sessionAs('ops3', true)).run(['true']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SudoUnavailableError);
    expect((err as Error).message).toMatch(/^h1: sudo: .*ops3/);
  });

  // Last: removes sudo from the host (its private /usr overlay only).
  it('says so when sudo is not installed', async () => {
    await lab.exec('h1', 'rm -f /usr/bin/sudo');
    const err = await (await sessionAs('ops', true)).run(['true']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SudoUnavailableError);
    expect((err as Error).message).toMatch(/^h1: sudo: sudo is not installed, and ops is not root/);
  });
});
