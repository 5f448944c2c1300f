// The operator-side store of etcd snapshots: stateDir()/clusters/<cluster>/snapshots (dir 0700, files 0600), one
// `<stamp>-<member>.db` per snapshot with a `sha256sum -c`-compatible `.sha256` beside it. A snapshot holds every
// Secret of the cluster, so it is treated like the CA keys next door (pki-store.ts).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidInputError } from '../errors.js';
import { stateDir } from '../paths.js';
import { STORE_DIR_MODE, STORE_FILE_MODE } from './pki-store.js';

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function snapshotDir(cluster: string): string {
  // Cluster names are DNS labels by schema; checked again because this becomes a path.
  if (!dnsLabel.test(cluster)) throw new InvalidInputError(`invalid cluster name ${cluster}`);
  return stateDir('clusters', cluster, 'snapshots');
}

/** `20261202T173501Z-e1.db`: sortable, no colons, the member it was taken from. */
export function snapshotFileName(stamp: string, member: string): string {
  if (!/^\d{8}T\d{6}Z$/.test(stamp)) throw new InvalidInputError(`invalid snapshot stamp ${stamp}`);
  if (!/^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$/.test(member))
    throw new InvalidInputError(`invalid member ${member}`);
  return `${stamp}-${member}.db`;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** The checksum recorded beside a snapshot, or undefined when there is none. */
export async function recordedSha256(path: string): Promise<string | undefined> {
  try {
    const text = await readFile(`${path}.sha256`, 'utf8');
    return /^([0-9a-f]{64})\s/.exec(text)?.[1];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export interface ReceivedSnapshot {
  path: string;
  size: number;
  sha256: string;
}

/**
 * Receive a snapshot into the store: `fill` writes the bytes into the given sink (it must not end it). Written to
 * a 0600 temporary, synced, hashed again from disk and compared with `expectedSha256` (the host's sha256sum) before
 * it is renamed into place, so a file in the store under its final name is always complete and verified.
 */
export async function receiveSnapshot(
  dir: string,
  name: string,
  expectedSha256: string,
  fill: (sink: Writable) => Promise<void>,
  onBytes: (bytes: number) => void = () => undefined,
): Promise<ReceivedSnapshot> {
  await mkdir(dir, { recursive: true, mode: STORE_DIR_MODE });
  await chmod(dir, STORE_DIR_MODE);
  const path = join(dir, name);
  const tmp = `${path}.part`;
  await rm(tmp, { force: true }); // a previous attempt's leftover
  let bytes = 0;
  const streamed = createHash('sha256');
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      streamed.update(chunk);
      onBytes(bytes);
      cb(null, chunk);
    },
  });
  try {
    // 'wx' + mode: created 0600 before a byte is written, never following an existing file or link.
    const written = pipeline(counter, createWriteStream(tmp, { flags: 'wx', mode: STORE_FILE_MODE }));
    written.catch(() => undefined); // awaited below; a failed fill must not leave it unhandled meanwhile
    await fill(counter);
    counter.end();
    await written;
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    counter.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
  // Twice: what crossed the wire, and what the disk gives back.
  const onDisk = await sha256File(tmp);
  const got = streamed.digest('hex');
  if (got !== expectedSha256 || onDisk !== expectedSha256) {
    await rm(tmp, { force: true });
    throw new Error(
      `snapshot ${name}: checksum after transfer ${onDisk} (streamed ${got}) differs from the host's ${expectedSha256}`,
    );
  }
  await rename(tmp, path);
  const sidecar = await open(`${path}.sha256`, 'w', STORE_FILE_MODE);
  try {
    await sidecar.writeFile(`${expectedSha256}  ${basename(path)}\n`);
  } finally {
    await sidecar.close();
  }
  return { path, size: (await stat(path)).size, sha256: expectedSha256 };
}
