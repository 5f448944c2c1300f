// Two processes that make the etcd CA in one shared store at the same moment (two workers on one
// KUBEADM2HA_STATE_DIR) end with exactly one CA: the store's lock makes the second one find and keep the first's.
// Real processes (tsx), real key generation, real files; no host is contacted.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k2h-ca-race-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Resolves with each stdout line as it comes. */
function lines(p: ChildProcess): AsyncIterator<string> {
  if (!p.stdout) throw new Error('no stdout');
  return createInterface({ input: p.stdout })[Symbol.asyncIterator]();
}

describe('CA creation on a shared store', () => {
  it('two processes racing to make the CA end with one CA, the same for both', { timeout: 120_000 }, async () => {
    const racers = [0, 1].map(() =>
      spawn(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), 'test/support/ensure-ca-process.ts', dir], {
        cwd: root,
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    const out = racers.map(lines);
    for (const o of out) expect((await o.next()).value).toBe('ready');
    for (const r of racers) r.stdin?.write('go\n');
    const results = (await Promise.all(out.map((o) => o.next()))).map(
      (l) => JSON.parse(String(l.value)) as { fingerprint: string; created: boolean },
    );
    await Promise.all(
      racers.map((r) => new Promise((res) => (r.exitCode !== null ? res(r.exitCode) : r.once('exit', res)))),
    );

    expect(results.map((r) => r.created).sort()).toEqual([false, true]);
    expect(results[0]!.fingerprint).toBe(results[1]!.fingerprint);
    const stored = new X509Certificate(await readFile(join(dir, 'etcd-ca.crt')));
    expect(stored.fingerprint256.replace(/:/g, '').toLowerCase()).toBe(results[0]!.fingerprint);
    // Nothing left over: no temporaries, no lock.
    expect((await readdir(dir)).sort()).toEqual(['etcd-ca.crt', 'etcd-ca.key']);
  });
});
