// One-layer OCI images built from files on this machine, written as an OCI image layout directory (oci-layout,
// index.json, blobs/sha256/…), the form skopeo, containerd and our registry client read. Deterministic: the layer
// is a deterministic tar (./tar.ts) gzipped with fixed settings, and the config has a fixed creation time and key
// order, so the same inputs give the same manifest digest on every build; a rebuild can be checked, not trusted.
// The layout is written to a temporary directory next to the destination and renamed into place: a build killed
// half-way leaves a stray temp directory, never a half image under the real name.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zlibConstants, createGzip } from 'node:zlib';
import { tarStream, type TarEntry } from './tar.js';

export const MediaType = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export interface ImageFile {
  /** Absolute path inside the image, e.g. /usr/local/bin/kube-apiserver. */
  path: string;
  /** A file on this machine whose bytes go in (streamed). */
  source?: string;
  /** Or the bytes themselves (small files: /etc/passwd…). */
  content?: Buffer;
  mode: number;
}

export interface ImageSymlink {
  path: string;
  target: string;
}

export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  user?: string;
  workingDir?: string;
}

export interface BuildImageOptions {
  files: ImageFile[];
  symlinks?: ImageSymlink[];
  /** Directories to create even when no file lives in them (/tmp, /run…), with their mode. */
  dirs?: { path: string; mode: number }[];
  config: ImageConfig;
  os: 'linux';
  /** OCI/Go name: amd64, arm64… */
  architecture: string;
  /** Written as org.opencontainers.image.ref.name in index.json, for `skopeo … oci:<dir>:<refName>`. */
  refName?: string;
  /** gzip level (default 6, as `docker`/`gzip` use). */
  gzipLevel?: number;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface BuiltImage {
  /** The layout directory. */
  dir: string;
  manifest: Descriptor;
  config: Descriptor;
  layer: Descriptor & { diffId: string; uncompressedSize: number };
}

/** Go's GOARCH names for Node's process.arch (the ones we build for). */
export function ociArchitecture(nodeArch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
  const arch = map[nodeArch];
  if (!arch) throw new Error(`no OCI architecture name for Node's '${nodeArch}'`);
  return arch;
}

/** Builds the image and writes its layout to `destDir` (replacing what was there). */
export async function buildImage(destDir: string, opts: BuildImageOptions): Promise<BuiltImage> {
  const parent = dirname(destDir);
  await mkdir(parent, { recursive: true });
  const tmp = `${destDir}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    const blobs = join(tmp, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const layer = await writeLayer(tarEntries(opts), blobs, opts.gzipLevel ?? 6);

    const config = jsonBytes({
      created: '1970-01-01T00:00:00Z',
      architecture: opts.architecture,
      os: opts.os,
      config: imageConfigJson(opts.config),
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'kubeadm2ha buildImage' }],
    });
    const configDesc = await writeBlob(blobs, MediaType.config, config);
    const manifest = jsonBytes({
      schemaVersion: 2,
      mediaType: MediaType.manifest,
      config: configDesc,
      layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    });
    const manifestDesc = await writeBlob(blobs, MediaType.manifest, manifest);
    const index = jsonBytes({
      schemaVersion: 2,
      mediaType: MediaType.index,
      manifests: [
        {
          ...manifestDesc,
          platform: { architecture: opts.architecture, os: opts.os },
          ...(opts.refName && { annotations: { 'org.opencontainers.image.ref.name': opts.refName } }),
        },
      ],
    });
    await writeFile(join(tmp, 'index.json'), index);
    await writeFile(join(tmp, 'oci-layout'), jsonBytes({ imageLayoutVersion: '1.0.0' }));
    // Another process may have built the same image meanwhile (deterministic, so same digest): keep its copy
    // rather than swap directories under a reader that is pushing from it.
    const existing = await readImageLayout(destDir).catch(() => undefined);
    if (existing?.manifest.digest === manifestDesc.digest && (await blobsPresent(existing))) {
      await rm(tmp, { recursive: true, force: true });
    } else {
      await replaceDir(tmp, destDir);
    }
    return { dir: destDir, manifest: manifestDesc, config: configDesc, layer };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

function tarEntries(opts: BuildImageOptions): TarEntry[] {
  const entries: TarEntry[] = [];
  for (const d of opts.dirs ?? []) entries.push({ type: 'dir', path: d.path, mode: d.mode });
  for (const f of opts.files) {
    if ((f.source === undefined) === (f.content === undefined)) {
      throw new Error(`image file ${f.path}: give exactly one of source and content`);
    }
    entries.push(
      f.source !== undefined
        ? { type: 'file', path: f.path, mode: f.mode, source: f.source }
        : { type: 'file', path: f.path, mode: f.mode, content: f.content! },
    );
  }
  for (const l of opts.symlinks ?? []) entries.push({ type: 'symlink', path: l.path, target: l.target });
  return entries;
}

/** Config keys as the OCI image spec spells them; absent ones left out (not null), so the JSON is stable. */
function imageConfigJson(c: ImageConfig): Record<string, unknown> {
  return {
    ...(c.user !== undefined && { User: c.user }),
    ...(c.env && { Env: c.env }),
    ...(c.entrypoint && { Entrypoint: c.entrypoint }),
    ...(c.cmd && { Cmd: c.cmd }),
    ...(c.workingDir !== undefined && { WorkingDir: c.workingDir }),
  };
}

const jsonBytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');

async function writeBlob(blobs: string, mediaType: string, bytes: Buffer): Promise<Descriptor> {
  const hex = createHash('sha256').update(bytes).digest('hex');
  await writeFile(join(blobs, hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
}

/** Counts and hashes what flows through. */
class Measure extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

/** tar → (diff_id) → gzip → (digest) → file, in one pass; the blob is renamed to its digest at the end. */
async function writeLayer(entries: TarEntry[], blobs: string, level: number): Promise<BuiltImage['layer']> {
  const raw = new Measure();
  const gz = new Measure();
  const partial = join(blobs, 'layer.partial');
  // Node's gzip header carries mtime 0 and no file name: the output depends only on the input and the level.
  await pipeline(
    Readable.from(tarStream(entries)),
    raw,
    createGzip({ level, memLevel: 8, strategy: zlibConstants.Z_DEFAULT_STRATEGY, chunkSize: 1 << 16 }),
    gz,
    createWriteStream(partial),
  );
  const hex = gz.hash.digest('hex');
  await rename(partial, join(blobs, hex));
  return {
    mediaType: MediaType.layerGzip,
    digest: `sha256:${hex}`,
    size: gz.size,
    diffId: `sha256:${raw.hash.digest('hex')}`,
    uncompressedSize: raw.size,
  };
}

async function blobsPresent(layout: ImageLayout): Promise<boolean> {
  for (const b of layout.blobs) {
    const st = await stat(layout.blobPath(b.digest)).catch(() => undefined);
    if (st?.size !== b.size) return false;
  }
  return true;
}

/** rename(2) cannot replace a non-empty directory: move the old one aside first, then drop it. */
async function replaceDir(src: string, dest: string): Promise<void> {
  const exists = await stat(dest).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await rename(src, dest);
    return;
  }
  const old = `${dest}.old-${randomBytes(4).toString('hex')}`;
  await rename(dest, old);
  await rename(src, dest);
  await rm(old, { recursive: true, force: true });
}

export interface ImageLayout {
  dir: string;
  manifest: Descriptor;
  /** The manifest's exact bytes (its digest is over these). */
  manifestBytes: Buffer;
  /** Config first, then layers: the blobs a registry needs before it accepts the manifest. */
  blobs: Descriptor[];
  blobPath(digest: string): string;
}

/** Reads a layout holding one image manifest (what buildImage writes), checking the manifest's digest. */
export async function readImageLayout(dir: string): Promise<ImageLayout> {
  const blobPath = (digest: string): string => {
    const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
    if (!m) throw new Error(`${dir}: unsupported digest '${digest}'`);
    return join(dir, 'blobs', 'sha256', m[1]!);
  };
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
  const manifests = (index.manifests ?? []).filter((d) => d.mediaType === MediaType.manifest);
  if (manifests.length !== 1) {
    throw new Error(`${dir}: index.json must list exactly one image manifest, found ${manifests.length}`);
  }
  const manifest = manifests[0]!;
  const manifestBytes = await readFile(blobPath(manifest.digest));
  const actual = `sha256:${createHash('sha256').update(manifestBytes).digest('hex')}`;
  if (actual !== manifest.digest || manifestBytes.length !== manifest.size) {
    throw new Error(`${dir}: manifest blob does not match its descriptor (${manifest.digest}, got ${actual})`);
  }
  const m = JSON.parse(manifestBytes.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
  return {
    dir,
    manifest: { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size },
    manifestBytes,
    blobs: [m.config, ...m.layers],
    blobPath,
  };
}
