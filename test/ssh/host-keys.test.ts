// Host-key policy against real sshds: strict refuses unknown hosts, accept-new records them, a changed key is
// refused under either policy, hashed known_hosts work. Every refusal must come before anything runs on the host.
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lab/index.js';
import { FailureType, HostKeyMismatchError, HostKeyUnknownError } from '../../src/errors.js';
import { fingerprint } from '../../src/ssh/index.js';
import { labPool, target, type SshSettingsInput } from './helpers.js';

let lab: Lab;
let dir: string;
/** known_hosts lines the lab wrote, by host name: `<address> ssh-ed25519 AAAA…`. */
const labLine = new Map<string, string>();

beforeAll(async () => {
  lab = await createLab({ hosts: 2, prepared: false });
  dir = await mkdtemp(join(lab.dir, 'kh-'));
  const lines = (await readFile(lab.knownHostsPath, 'utf8')).split('\n').filter(Boolean);
  for (const h of lab.hosts) {
    const line = lines.find((l) => l.startsWith(`${h.address} `));
    if (!line) throw new Error(`lab known_hosts has no line for ${h.name}`);
    labLine.set(h.name, line);
  }
});
afterAll(() => lab?.destroy());

const keyOf = (line: string): Buffer => Buffer.from(line.split(' ')[2] ?? '', 'base64');
let n = 0;
/** A known_hosts file of our own for one test. */
async function knownHosts(text: string | undefined): Promise<string> {
  const file = join(dir, `known_hosts.${++n}`);
  if (text !== undefined) await writeFile(file, text);
  return file;
}
/** Run one marker-creating command on `host` with these settings; returns the error, if any. */
async function tryRun(host: string, settings: SshSettingsInput, marker: string): Promise<unknown> {
  const pool = await labPool(lab, settings);
  try {
    await pool.session(target(lab, host)).run(['touch', marker]);
    return undefined;
  } catch (err) {
    return err;
  } finally {
    await pool.closeAll();
  }
}
const ran = async (host: string, marker: string): Promise<boolean> =>
  (await lab.exec(host, `test -e ${marker}`, { allowFail: true })).code === 0;
/** A fresh ed25519 public key, as a known_hosts key field. */
function otherKey(): string {
  const file = join(dir, `other.${++n}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  return execFileSync('cut', ['-d', ' ', '-f1,2', `${file}.pub`], { encoding: 'utf8' }).trim();
}

describe('strict (the default)', () => {
  it('refuses an unknown host, non-retryably, before running anything', async () => {
    const file = await knownHosts(labLine.get('h2') + '\n'); // knows h2 only
    const err = await tryRun('h1', { knownHostsFile: file }, '/tmp/strict-unknown');
    expect(err).toBeInstanceOf(HostKeyUnknownError);
    const e = err as HostKeyUnknownError;
    expect(e.type).toBe(FailureType.HostKeyUnknown);
    expect(e.retryable).toBe(false);
    expect(e.message).toContain(`h1: host key ssh-ed25519 ${fingerprint(keyOf(labLine.get('h1') ?? ''))}`);
    expect(e.message).toContain(file);
    expect(await ran('h1', '/tmp/strict-unknown')).toBe(false);
    expect(await readFile(file, 'utf8')).toBe(labLine.get('h2') + '\n'); // nothing recorded
  });

  it('treats a missing known_hosts file as empty', async () => {
    const err = await tryRun('h1', { knownHostsFile: join(dir, 'absent', 'known_hosts') }, '/tmp/strict-absent');
    expect(err).toBeInstanceOf(HostKeyUnknownError);
    expect(await ran('h1', '/tmp/strict-absent')).toBe(false);
  });
});

describe('accept-new', () => {
  it('records the key of a new host, after which strict accepts it', async () => {
    const file = join(dir, 'fresh', 'known_hosts'); // directory does not exist yet either
    expect(
      await tryRun('h1', { knownHostsFile: file, hostKeyPolicy: 'accept-new' }, '/tmp/accept-new'),
    ).toBeUndefined();
    expect(await ran('h1', '/tmp/accept-new')).toBe(true);
    const recorded = await readFile(file, 'utf8');
    expect(recorded).toBe(`${labLine.get('h1')}\n`); // `<address> ssh-ed25519 <key>`, the key the host really has
    // OpenSSH agrees with what we wrote.
    const h1 = lab.hosts[0]?.address ?? '';
    expect(execFileSync('ssh-keygen', ['-F', h1, '-f', file], { encoding: 'utf8' })).toContain(h1);
    expect(await tryRun('h1', { knownHostsFile: file }, '/tmp/strict-after')).toBeUndefined();
    expect(await ran('h1', '/tmp/strict-after')).toBe(true);
    // Recording is once: a second accept-new connection adds nothing.
    await tryRun('h1', { knownHostsFile: file, hostKeyPolicy: 'accept-new' }, '/tmp/accept-again');
    expect(await readFile(file, 'utf8')).toBe(recorded);
  });
});

describe('a changed key', () => {
  it('is refused under strict and under accept-new, naming both fingerprints and the known_hosts line', async () => {
    const h1 = lab.hosts[0]?.address ?? '';
    const wrong = `${h1} ${otherKey()}`;
    const text = `# first line is a comment\n${labLine.get('h2')}\n${wrong}\n`;
    const file = await knownHosts(text);
    for (const hostKeyPolicy of ['strict', 'accept-new'] as const) {
      const err = await tryRun('h1', { knownHostsFile: file, hostKeyPolicy }, `/tmp/changed-${hostKeyPolicy}`);
      expect(err, hostKeyPolicy).toBeInstanceOf(HostKeyMismatchError);
      const e = err as HostKeyMismatchError;
      expect(e.retryable).toBe(false);
      expect(e.message).toContain('h1: host key changed');
      expect(e.message).toContain(`ssh-ed25519 ${fingerprint(keyOf(wrong))} (${file}:3)`); // expected, and where
      expect(e.message).toContain(`host offered ssh-ed25519 ${fingerprint(keyOf(labLine.get('h1') ?? ''))}`);
      expect(await ran('h1', `/tmp/changed-${hostKeyPolicy}`)).toBe(false);
    }
    expect(await readFile(file, 'utf8')).toBe(text); // accept-new did not "fix" it
  });

  it('is refused when the host really gets a new key (reinstalled), even with accept-new', async () => {
    const file = await knownHosts(`${labLine.get('h2')}\n`);
    expect(await tryRun('h2', { knownHostsFile: file }, '/tmp/before-rekey')).toBeUndefined();
    await lab.exec(
      'h2',
      "rm -f /etc/ssh/ssh_host_ed25519_key* && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key",
    );
    await lab.stopHost('h2');
    await lab.startHost('h2');
    const err = await tryRun('h2', { knownHostsFile: file, hostKeyPolicy: 'accept-new' }, '/tmp/after-rekey');
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect((err as Error).message).toContain(`(${file}:1)`);
    expect(await ran('h2', '/tmp/after-rekey')).toBe(false);
  });
});

describe('hashed known_hosts', () => {
  it('accepts a host whose entry ssh-keygen -H hashed, and still refuses a changed key', async () => {
    const file = await knownHosts(undefined);
    await copyFile(lab.knownHostsPath, file);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    const hashed = await readFile(file, 'utf8');
    expect(hashed).not.toContain(lab.hosts[0]?.address ?? 'x');
    expect(hashed.split('\n')[0]).toMatch(/^\|1\|/);
    expect(await tryRun('h1', { knownHostsFile: file }, '/tmp/hashed-ok')).toBeUndefined();
    expect(await ran('h1', '/tmp/hashed-ok')).toBe(true);

    const wrongFile = await knownHosts(`${lab.hosts[0]?.address} ${otherKey()}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', wrongFile]);
    const err = await tryRun('h1', { knownHostsFile: wrongFile, hostKeyPolicy: 'accept-new' }, '/tmp/hashed-bad');
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(await ran('h1', '/tmp/hashed-bad')).toBe(false);
  });
});
