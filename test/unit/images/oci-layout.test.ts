// buildImage writes a real OCI layout: skopeo (containers/image, the same code CRI-O and podman use) must accept
// it, and the same inputs must give the same manifest digest, byte for byte.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, MediaType, readImageLayout, type BuildImageOptions } from '../../../src/images/oci-layout.js';

const run = promisify(execFile);

describe('buildImage', () => {
  let work: string;
  let opts: BuildImageOptions;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'k2h-oci-'));
    await writeFile(join(work, 'tool'), Buffer.alloc(200_000, 7));
    opts = {
      files: [
        { path: '/usr/local/bin/tool', source: join(work, 'tool'), mode: 0o755 },
        { path: '/etc/passwd', content: Buffer.from('root:x:0:0:root:/root:/sbin/nologin\n'), mode: 0o644 },
      ],
      symlinks: [{ path: '/bin', target: 'usr/bin' }],
      dirs: [{ path: '/tmp', mode: 0o1777 }],
      config: { entrypoint: ['/usr/local/bin/tool'], env: ['PATH=/usr/local/bin:/usr/bin:/bin'], user: '0:0' },
      os: 'linux',
      architecture: 'amd64',
      refName: 'v1',
    };
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('gives the same manifest digest for the same inputs (also listed in another order)', async () => {
    const a = await buildImage(join(work, 'a'), opts);
    const b = await buildImage(join(work, 'b'), { ...opts, files: [...opts.files].reverse() });
    expect(b.manifest.digest).toBe(a.manifest.digest);
    expect(b.layer.digest).toBe(a.layer.digest);
    const c = await buildImage(join(work, 'c'), { ...opts, config: { ...opts.config, user: '65535' } });
    expect(c.manifest.digest).not.toBe(a.manifest.digest);
    expect(c.layer.digest).toBe(a.layer.digest); // only the config changed
    // Building the same image again over itself keeps the existing directory (a concurrent pusher reads it).
    const ino = (await stat(join(work, 'a'))).ino;
    expect((await buildImage(join(work, 'a'), opts)).manifest.digest).toBe(a.manifest.digest);
    expect((await stat(join(work, 'a'))).ino).toBe(ino);
    expect((await readdir(work)).filter((n) => n.startsWith('a.'))).toEqual([]);
  });

  it('writes blobs named by their sha256 and an index pointing at the manifest', async () => {
    const img = await buildImage(join(work, 'd'), opts);
    const layout = await readImageLayout(img.dir);
    expect(layout.manifest).toEqual(img.manifest);
    for (const d of layout.blobs) {
      const bytes = await readFile(layout.blobPath(d.digest));
      expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(d.digest);
      expect(bytes.length).toBe(d.size);
    }
    expect(layout.blobs.map((d) => d.mediaType)).toEqual([MediaType.config, MediaType.layerGzip]);
    const config = JSON.parse(await readFile(layout.blobPath(img.config.digest), 'utf8')) as {
      rootfs: { diff_ids: string[] };
      config: { Entrypoint: string[] };
    };
    expect(config.rootfs.diff_ids).toEqual([img.layer.diffId]);
    expect(config.config.Entrypoint).toEqual(['/usr/local/bin/tool']);
  });

  it('is accepted by skopeo, which reports our digest, entrypoint and layer', async () => {
    const img = await buildImage(join(work, 'e'), opts);
    const { stdout } = await run('skopeo', ['inspect', `oci:${img.dir}:v1`]);
    const info = JSON.parse(stdout) as { Digest: string; Architecture: string; Os: string; Layers: string[] };
    expect(info.Digest).toBe(img.manifest.digest);
    expect(info.Architecture).toBe('amd64');
    expect(info.Os).toBe('linux');
    expect(info.Layers).toEqual([img.layer.digest]);
    const cfg = JSON.parse((await run('skopeo', ['inspect', '--config', `oci:${img.dir}:v1`])).stdout) as {
      config: { Entrypoint: string[]; User: string };
    };
    expect(cfg.config.Entrypoint).toEqual(['/usr/local/bin/tool']);
    expect(cfg.config.User).toBe('0:0');
    // And the layer unpacks with its files (skopeo copy to a directory, then GNU tar lists the layer).
    const dirCopy = join(work, 'copy');
    await run('skopeo', ['copy', `oci:${img.dir}:v1`, `dir:${dirCopy}`]);
    const layerFile = join(dirCopy, img.layer.digest.slice('sha256:'.length));
    const { stdout: list } = await run('tar', ['-tzf', layerFile]);
    expect(list.split('\n')).toEqual(expect.arrayContaining(['bin', 'etc/passwd', 'tmp/', 'usr/local/bin/tool']));
  });

  it('leaves no image (and no temp directory) when the build fails, and keeps the previous image', async () => {
    const dest = join(work, 'f');
    const good = await buildImage(dest, opts);
    const bad = { ...opts, files: [{ path: '/x', source: join(work, 'missing'), mode: 0o644 }] };
    await expect(buildImage(dest, bad)).rejects.toThrow(/ENOENT/);
    expect((await readImageLayout(dest)).manifest.digest).toBe(good.manifest.digest);
    expect((await readdir(work)).filter((n) => n.startsWith('f.'))).toEqual([]);
    await expect(buildImage(join(work, 'g'), bad)).rejects.toThrow(/ENOENT/);
    expect((await readdir(work)).filter((n) => n.startsWith('g'))).toEqual([]);
  });
});
