// pushImage against the real Distribution registry (Debian's docker-registry, started by startLabRegistry on
// 127.0.0.1 and a free port, no lab needed), checked with skopeo; error classification against the real registry
// (refused, 4xx) and against a stand-in HTTP server that answers 503 like an overloaded registry.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailureType } from '../../../src/errors.js';
import { buildImage, readImageLayout, type BuiltImage } from '../../../src/images/oci-layout.js';
import { parseImageRef, pushImage, remoteManifestDigest, RegistryError } from '../../../src/images/registry-client.js';
import { startLabRegistry, type LabRegistry } from '../../../lab/k8s/registry-server.js';
import { freePort } from '../../../src/temporal/process-util.js';

const run = promisify(execFile);

async function pushError(p: Promise<unknown>): Promise<RegistryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegistryError);
  return err as RegistryError;
}

describe('pushImage', () => {
  let work: string;
  let registry: LabRegistry;
  let img: BuiltImage;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'k2h-push-'));
    registry = await startLabRegistry({ labDir: work, address: '127.0.0.1', port: await freePort() });
    await writeFile(join(work, 'tool'), Buffer.alloc(300_000, 3));
    img = await buildImage(join(work, 'img'), {
      files: [{ path: '/tool', source: join(work, 'tool'), mode: 0o755 }],
      config: { entrypoint: ['/tool'] },
      os: 'linux',
      architecture: 'amd64',
    });
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('uploads the blobs and the manifest; skopeo reads it back with our digest; a second push only HEADs', async () => {
    const first = await pushImage(img.dir, registry.url, 'k8s/tool:v1');
    expect(first.digest).toBe(img.manifest.digest);
    expect(first.uploaded.map((d) => d.digest).sort()).toEqual([img.config.digest, img.layer.digest].sort());
    expect(first.skipped).toEqual([]);
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/k8s/tool:v1`]);
    const info = JSON.parse(stdout) as { Digest: string; Layers: string[] };
    expect(info.Digest).toBe(img.manifest.digest);
    expect(info.Layers).toEqual([img.layer.digest]);
    expect(await remoteManifestDigest(registry.url, 'k8s/tool:v1')).toBe(img.manifest.digest);
    expect(await remoteManifestDigest(registry.url, 'k8s/tool:v2')).toBeUndefined();

    // Blobs are visible per repository: the same repository under another tag uploads nothing.
    const again = await pushImage(img.dir, registry.url, 'k8s/tool:v1-again');
    expect(again.uploaded).toEqual([]);
    expect(again.skipped).toHaveLength(2);
    expect(again.digest).toBe(img.manifest.digest);
  });

  it('says which registry and image when a blob is corrupt (HTTP 400 from the registry, not retryable)', async () => {
    const bad = join(work, 'bad');
    await cp(img.dir, bad, { recursive: true });
    const layout = await readImageLayout(bad);
    const file = layout.blobPath(img.layer.digest);
    const bytes = await readFile(file);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0xff; // same size, different digest
    await writeFile(file, bytes);
    const err = await pushError(pushImage(bad, registry.url, 'k8s/bad:v1'));
    expect(err.message).toContain(`registry ${registry.url}, image k8s/bad:v1`);
    expect(err.message).toMatch(
      /upload blob sha256:[0-9a-f]{64}: PUT \/v2\/k8s\/bad\/blobs\/uploads\/.* answered HTTP 400/,
    );
    expect(err.message).toMatch(/DIGEST_INVALID|digest/i);
    expect(err.status).toBe(400);
    expect(err.retryable).toBe(false);
  });

  it('classifies a refused connection as retryable and names the registry', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const err = await pushError(pushImage(img.dir, url, 'k8s/tool:v1'));
    expect(err.type).toBe(FailureType.HostUnreachable);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(`registry ${url}, image k8s/tool:v1: HEAD /v2/k8s/tool/blobs/sha256:`);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('classifies 503 from an overloaded registry (stand-in HTTP server) as retryable, with the body', async () => {
    // Blob checks say "missing", then the upload start is refused for load, as Distribution does behind a proxy.
    const server: Server = createServer((req, res) => {
      if (req.method === 'HEAD') return void res.writeHead(404).end();
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('too busy, come back later');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const err = await pushError(pushImage(img.dir, url, 'k8s/tool:v1'));
      expect(err.retryable).toBe(true);
      expect(err.status).toBe(503);
      expect(err.message).toMatch(
        /start blob upload: POST \/v2\/k8s\/tool\/blobs\/uploads\/ answered HTTP 503: too busy, come back later/,
      );
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('rejects bad references and URLs before any request', async () => {
    expect(parseImageRef('k8s/kube-apiserver:v1.34.12')).toEqual({ name: 'k8s/kube-apiserver', tag: 'v1.34.12' });
    expect(() => parseImageRef('k8s/Kube:v1')).toThrow(/invalid image reference/);
    expect(() => parseImageRef('k8s/kube')).toThrow(/invalid image reference/);
    const err = await pushImage(img.dir, 'ftp://x', 'k8s/a:b').catch((e: unknown) => e);
    expect(String(err)).toMatch(/invalid registry URL/);
  });
});
