import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdSnapshotActivities, parseSnapshotStatus } from '../../../src/activities/etcd-snapshot.js';
import { receiveSnapshot, snapshotFileName } from '../../../src/activities/snapshot-store.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k2h-snapshot-unit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('etcd snapshot pieces', () => {
  it('parses `snapshot status -w json` of etcdctl 3.4 and etcdutl 3.6, and rejects anything else', () => {
    expect(parseSnapshotStatus('{"hash":3785462537,"revision":51,"totalKey":57,"totalSize":24576}')).toEqual({
      hash: 3785462537,
      revision: 51,
      totalKeys: 57,
      totalSize: 24576,
    });
    expect(parseSnapshotStatus('{"hash":1,"revision":2,"totalKey":3,"totalSize":4,"version":"3.6.0"}')?.revision).toBe(
      2,
    );
    expect(parseSnapshotStatus('Error: snapshot file has wrong hash')).toBeUndefined();
    expect(parseSnapshotStatus('{"hash":1,"revision":2}')).toBeUndefined();
  });

  it('names snapshot files by stamp and member and refuses anything that could escape the directory', () => {
    expect(snapshotFileName('20261202T173501Z', 'e1')).toBe('20261202T173501Z-e1.db');
    expect(() => snapshotFileName('2026-12-02', 'e1')).toThrow(/stamp/);
    expect(() => snapshotFileName('20261202T173501Z', '../x')).toThrow(/member/);
  });

  it('keeps a received snapshot only when its checksum matches, 0600 with a sha256sum-compatible sidecar', async () => {
    const data = Buffer.from('etcd snapshot bytes '.repeat(1000));
    const fill = (b: Buffer) => (sink: NodeJS.WritableStream) =>
      new Promise<void>((resolve) => {
        sink.write(b.subarray(0, 100));
        sink.write(b.subarray(100), () => resolve());
      });
    const seen: number[] = [];
    const r = await receiveSnapshot(join(dir, 'store'), 'a.db', sha(data), fill(data), (n) => seen.push(n));
    expect(r).toEqual({ path: join(dir, 'store', 'a.db'), size: data.length, sha256: sha(data) });
    expect(seen[seen.length - 1]).toBe(data.length);
    expect((await stat(r.path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'store'))).mode & 0o777).toBe(0o700);
    expect(await readFile(`${r.path}.sha256`, 'utf8')).toBe(`${sha(data)}  a.db\n`);
    // A transfer that lost bytes: refused, and nothing left behind under any name.
    await expect(receiveSnapshot(join(dir, 'store'), 'b.db', sha(data), fill(data.subarray(0, 500)))).rejects.toThrow(
      /checksum after transfer .* differs from the host's/,
    );
    expect((await readdir(join(dir, 'store'))).sort()).toEqual(['a.db', 'a.db.sha256']);
  });

  it('verifies a snapshot against --sha256 or its sidecar and refuses one without any', async () => {
    const a = createEtcdSnapshotActivities({ session: () => undefined as never, now: () => Date.now() });
    const data = Buffer.from('snapshot');
    const path = join(dir, 'v.db');
    await writeFile(path, data);
    await expect(a.verifyEtcdSnapshotFile({ path })).rejects.toThrow(/no checksum for .*pass --sha256/);
    expect(await a.verifyEtcdSnapshotFile({ path, sha256: sha(data) })).toEqual({ path, size: 8, sha256: sha(data) });
    await writeFile(`${path}.sha256`, `${sha(Buffer.from('other'))}  v.db\n`);
    await expect(a.verifyEtcdSnapshotFile({ path })).rejects.toThrow(/refusing to restore it/);
    await expect(a.verifyEtcdSnapshotFile({ path: 'relative.db' })).rejects.toThrow(/must be absolute/);
  });
});
