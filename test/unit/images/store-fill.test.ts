// Filling the local store: from the real Distribution registry (Debian's docker-registry on 127.0.0.1, no lab) and
// from an OCI layout directory. Shared blobs arrive once; a blob whose bytes do not match its digest is refused and
// named, whether the registry serves it damaged or the layout holds it damaged.
import { stat, mkdtemp, readdir, rm, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillStore, uniqueSize } from '../../../src/images/fill.js';
import { buildImage, type BuiltImage } from '../../../src/images/oci-layout.js';
import { parseFullRef } from '../../../src/images/registry-pull.js';
import { pushImage } from '../../../src/images/registry-client.js';
import { BlobDigestError, ImageStore } from '../../../src/images/store.js';
import { freePort } from '../../../src/temporal/process-util.js';
import { startLabRegistry, type LabRegistry } from '../../../lab/k8s/registry-server.js';

/** Flip one byte in the middle of a file (a damaged blob of the same size). */
async function damage(file: string): Promise<void> {
  const size = (await stat(file)).size;
  const fh = await open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, Math.floor(size / 2));
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, Math.floor(size / 2));
  } finally {
    await fh.close();
  }
}

describe('parseFullRef', () => {
  it('splits registry, repository and tag; Docker Hub short names expand', () => {
    expect(parseFullRef('registry.k8s.io/coredns/coredns:v1.12.1')).toEqual({
      registry: 'registry.k8s.io',
      repository: 'coredns/coredns',
      reference: 'v1.12.1',
    });
    expect(parseFullRef('10.200.3.1:5000/k8s/pause:3.10.1').registry).toBe('10.200.3.1:5000');
    expect(parseFullRef('nginx')).toEqual({
      registry: 'registry-1.docker.io',
      repository: 'library/nginx',
      reference: 'latest',
    });
    expect(() => parseFullRef('r.example/Bad:1')).toThrow(/invalid repository/);
  });
});

describe('fillStore', () => {
  let work: string;
  let registry: LabRegistry;
  let a: BuiltImage;
  let b: BuiltImage;
  let refA: string;
  let refB: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'k2h-fill-'));
    registry = await startLabRegistry({ labDir: work, address: '127.0.0.1', port: await freePort() });
    await writeFile(join(work, 'tool'), Buffer.alloc(2_000_000, 7));
    // Same files, different entrypoint: two images whose one layer is the same blob.
    const spec = (entry: string) => ({
      files: [{ path: '/tool', source: join(work, 'tool'), mode: 0o755 }],
      config: { entrypoint: [entry] },
      os: 'linux' as const,
      architecture: 'amd64',
    });
    refA = `${registry.host}/k8s/a:v1`;
    refB = `${registry.host}/k8s/b:v1`;
    a = await buildImage(join(work, 'a'), { ...spec('/tool'), refName: refA });
    b = await buildImage(join(work, 'b'), { ...spec('/tool2'), refName: refB });
    await pushImage(a.dir, registry.url, 'k8s/a:v1');
    await pushImage(b.dir, registry.url, 'k8s/b:v1');
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('from a registry: a shared layer is fetched once, digests match the built images, a refill fetches nothing', async () => {
    expect(a.layer.digest).toBe(b.layer.digest);
    const store = await new ImageStore(join(work, 'store1')).init();
    expect((await stat(store.dir)).mode & 0o777).toBe(0o700);
    const r = await fillStore(store, [refA, refB], { kind: 'registry', plainHttp: [registry.host] });
    expect(r.images.map((i) => i.manifest.digest)).toEqual([a.manifest.digest, b.manifest.digest]);
    const distinct = a.manifest.size + a.config.size + a.layer.size + b.manifest.size + b.config.size;
    expect(r.uniqueBytes).toBe(distinct);
    expect(r.fetchedBytes).toBe(distinct);
    expect(uniqueSize(r.images)).toBe(distinct);
    const again = await fillStore(store, [refA, refB], { kind: 'registry', plainHttp: [registry.host] });
    expect(again.fetchedBytes).toBe(0);
    expect(again.alreadyStored).toEqual([refA, refB]);
  });

  it('from an OCI layout: blobs verified, images recorded by their annotation', async () => {
    const store = await new ImageStore(join(work, 'store2')).init();
    const r = await fillStore(store, [refA], { kind: 'oci-layout', dir: a.dir });
    expect(r.images[0]!.manifest.digest).toBe(a.manifest.digest);
    expect(r.images[0]!.blobs.map((d) => d.digest)).toEqual([a.config.digest, a.layer.digest]);
    await expect(fillStore(store, ['r.example/missing:1'], { kind: 'oci-layout', dir: a.dir })).rejects.toThrow(
      /image r\.example\/missing:1: not in the layout/,
    );
  });

  it('a damaged blob in the layout is refused, naming image and blob; nothing half-written stays', async () => {
    const copy = join(work, 'damaged');
    const built = await buildImage(copy, {
      files: [{ path: '/x', content: Buffer.alloc(500_000, 1), mode: 0o644 }],
      config: {},
      os: 'linux',
      architecture: 'amd64',
      refName: 'r.example/damaged:1',
    });
    await damage(join(copy, 'blobs', 'sha256', built.layer.digest.slice(7)));
    const store = await new ImageStore(join(work, 'store3')).init();
    const err = await fillStore(store, ['r.example/damaged:1'], { kind: 'oci-layout', dir: copy }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BlobDigestError);
    expect(String(err)).toContain(`image r.example/damaged:1: blob ${built.layer.digest}`);
    expect(await store.has(built.layer)).toBe(false);
    expect((await readdir(join(store.dir, 'blobs'))).filter((f) => f.startsWith('.incoming'))).toEqual([]);
  });

  it('a blob the registry serves damaged is refused on arrival, naming image and blob', async () => {
    const hex = a.layer.digest.slice(7);
    await damage(
      join(work, 'registry', 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data'),
    );
    const store = await new ImageStore(join(work, 'store4')).init();
    const err = await fillStore(store, [refA], { kind: 'registry', plainHttp: [registry.host] }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BlobDigestError);
    expect(String(err)).toContain(`image ${refA}: blob ${a.layer.digest}`);
    expect(await store.image(refA)).toBeUndefined();
  });
});
