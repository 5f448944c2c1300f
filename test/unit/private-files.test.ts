// Private local state: modes left by older versions (0755 directories, 0644 files) are tightened, nothing else is
// touched. Temp directories only (KUBEADM2HA_STATE_DIR / KUBEADM2HA_CONFIG_DIR point there), never ~/.local/state.
import { chmod, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { secureLocalState, tightenTree } from '../../src/private-files.js';

let dir: string;
const saved = { state: process.env.KUBEADM2HA_STATE_DIR, config: process.env.KUBEADM2HA_CONFIG_DIR };
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-private-'));
  process.env.KUBEADM2HA_STATE_DIR = join(dir, 'state');
  process.env.KUBEADM2HA_CONFIG_DIR = join(dir, 'config');
});
afterEach(async () => {
  for (const [k, v] of [
    ['KUBEADM2HA_STATE_DIR', saved.state],
    ['KUBEADM2HA_CONFIG_DIR', saved.config],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await rm(dir, { recursive: true, force: true });
});

const mode = async (p: string) => (await stat(p)).mode & 0o777;

async function oldStyle(path: string, fileMode: number): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, 'x');
  await chmod(path, fileMode);
}

describe('private local state', () => {
  it('makes the state and config trees 0700/0600 (executables keep their x bit), leaving symlink targets alone', async () => {
    const db = join(dir, 'state', 'temporal', 'cli-1.5.1', 'temporal.db');
    const caKey = join(dir, 'state', 'clusters', 'c1', 'pki', 'etcd-ca.key');
    const tool = join(dir, 'state', 'bin', 'tool');
    const keyring = join(dir, 'config', 'codec-keyring.json');
    const outside = join(dir, 'outside');
    await oldStyle(db, 0o644);
    await oldStyle(caKey, 0o640);
    await oldStyle(tool, 0o755);
    await oldStyle(keyring, 0o600);
    await oldStyle(outside, 0o644);
    await symlink(outside, join(dir, 'state', 'link'));
    for (const d of ['state', 'state/temporal', 'state/clusters', 'config']) await chmod(join(dir, d), 0o755);

    await secureLocalState();

    for (const d of [
      'state',
      'state/temporal',
      'state/temporal/cli-1.5.1',
      'state/clusters',
      'state/clusters/c1',
      'config',
    ])
      expect({ d, m: await mode(join(dir, d)) }).toEqual({ d, m: 0o700 });
    expect(await mode(db)).toBe(0o600);
    expect(await mode(caKey)).toBe(0o600);
    expect(await mode(tool)).toBe(0o700);
    expect(await mode(keyring)).toBe(0o600);
    expect(await mode(outside)).toBe(0o644);
  });

  it('a missing tree is fine', async () => {
    expect(await tightenTree(join(dir, 'nope'))).toEqual([]);
  });
});
