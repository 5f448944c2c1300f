// The operator's local image store: content-addressed blobs (blobs/sha256/<hex>, the OCI layout's own shape) plus
// one small record per image reference (which manifest, which blobs). Filled once from a registry or an OCI layout
// (./fill.ts); `images push` reads it. A blob several images share is stored, and so fetched, once.
//
// Nothing enters under its digest unverified: bytes stream into a temporary file while being hashed, and only a
// matching sha256 and size rename it into place, so a reader never sees a partial or wrong blob. The directory is
// private (0700): image records name the registries an air-gapped site mirrors.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ensurePrivateDir } from '../private-files.js';
import { stateDir } from '../paths.js';
import { FailureType, KubeadmHaError } from '../errors.js';
import type { Descriptor } from './oci-layout.js';

const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;

/** A blob's bytes are not the ones its digest names (damaged in transit or on disk). */
export class BlobDigestError extends KubeadmHaError {
  constructor(
    readonly where: string,
    readonly image: string,
    readonly digest: string,
    detail: string,
    type: FailureType = FailureType.CommandFailed,
  ) {
    super(`${where}: image ${image}: blob ${digest}: ${detail}`, type);
  }
}

/** One image as the store keeps it: the manifest the kubelet's platform resolves to, and every blob it needs. */
export interface StoredImage {
  ref: string;
  manifest: Descriptor;
  /** Config first, then layers. */
  blobs: Descriptor[];
}

export const hexOf = (digest: string): string => {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new KubeadmHaError(`unsupported digest '${digest}' (want sha256:<64 hex>)`, FailureType.InvalidInput);
  return m[1]!;
};

export const sha256Digest = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The record file of a reference: references hold ':' and '/', so the file is named by the reference's hash. */
const refFile = (ref: string): string => `${createHash('sha256').update(ref).digest('hex')}.json`;

export class ImageStore {
  constructor(readonly dir: string) {}

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', hexOf(digest));
  }

  async init(): Promise<this> {
    await ensurePrivateDir(this.dir);
    await ensurePrivateDir(join(this.dir, 'blobs', 'sha256'));
    await ensurePrivateDir(join(this.dir, 'refs'));
    return this;
  }

  /** Present with the right size (its digest was checked when it came in). */
  async has(d: Pick<Descriptor, 'digest' | 'size'>): Promise<boolean> {
    const st = await stat(this.blobPath(d.digest)).catch(() => undefined);
    return st?.isFile() === true && st.size === d.size;
  }

  /**
   * Stream `source` in as blob `d`, for `image` (named in errors). Verified before it is visible; returns the bytes
   * written (0 when the store already had it: `source` is then not opened at all).
   */
  async putBlob(image: string, d: Pick<Descriptor, 'digest' | 'size'>, source: () => Readable | Promise<Readable>) {
    if (await this.has(d)) return 0;
    const tmp = join(this.dir, 'blobs', `.incoming-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const input = await source();
      input.on('data', (c: Buffer) => {
        hash.update(c);
        size += c.length;
      });
      await pipeline(input, createWriteStream(tmp, { mode: 0o600 }));
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== d.digest || size !== d.size) {
        throw new BlobDigestError('store', image, d.digest, `received ${size} bytes hashing to ${got}`);
      }
      await rename(tmp, this.blobPath(d.digest));
      return size;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async putBytes(image: string, d: Pick<Descriptor, 'digest' | 'size'>, bytes: Buffer): Promise<number> {
    if (await this.has(d)) return 0;
    const got = sha256Digest(bytes);
    if (got !== d.digest || bytes.length !== d.size) {
      throw new BlobDigestError('store', image, d.digest, `got ${bytes.length} bytes hashing to ${got}`);
    }
    const tmp = join(this.dir, 'blobs', `.incoming-${randomBytes(6).toString('hex')}`);
    await writeFile(tmp, bytes, { mode: 0o600 });
    await rename(tmp, this.blobPath(d.digest));
    return bytes.length;
  }

  async readBlob(d: Descriptor): Promise<Buffer> {
    return readFile(this.blobPath(d.digest));
  }

  openBlob(d: Pick<Descriptor, 'digest'>, start = 0): Readable {
    return createReadStream(this.blobPath(d.digest), { start, highWaterMark: 1 << 20 });
  }

  async setImage(img: StoredImage): Promise<void> {
    const file = join(this.dir, 'refs', refFile(img.ref));
    await writeFile(`${file}.tmp`, JSON.stringify(img, null, 2) + '\n', { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  /** The record of `ref` if the store has it and every blob it names. */
  async image(ref: string): Promise<StoredImage | undefined> {
    const text = await readFile(join(this.dir, 'refs', refFile(ref)), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    const img = JSON.parse(text) as StoredImage;
    for (const d of [img.manifest, ...img.blobs]) if (!(await this.has(d))) return undefined;
    return img;
  }

  /** Recompute a stored blob's sha256 (what `images push` does before it sends a blob anywhere). */
  async verify(image: string, d: Descriptor): Promise<void> {
    const hash = createHash('sha256');
    await pipeline(this.openBlob(d), hash);
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== d.digest) throw new BlobDigestError('store', image, d.digest, `stored bytes hash to ${got}`);
  }
}

/** The store under the operator's state dir (KUBEADM2HA_STATE_DIR/images), created 0700. */
export function defaultImageStore(): Promise<ImageStore> {
  return new ImageStore(stateDir('images')).init();
}
