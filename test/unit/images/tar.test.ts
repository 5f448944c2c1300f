// The tar writer against GNU tar: the same tree archived by both must list identically (`tar -tvf`), and GNU tar
// must extract ours to the same bytes. Real GNU tar, real files.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paxRecord, planTar, tarStream, type TarEntry } from '../../../src/images/tar.js';

const run = promisify(execFile);
const gnuTar = (args: string[]): Promise<{ stdout: string; stderr: string }> =>
  run('tar', args, { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' }, maxBuffer: 1 << 24 });

const LONG_DIR = 'usr/lib/' + 'a-rather-long-directory-name-'.repeat(3) + 'x';
const LONG_FILE = `${LONG_DIR}/and-a-file-whose-name-alone-is-long-enough-to-need-pax-${'z'.repeat(40)}.so`;

describe('tarStream', () => {
  let work: string;
  let root: string;
  let entries: TarEntry[];
  const big = randomBytes(3 * 1024 * 1024 + 17); // several read chunks, not a multiple of 512

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'k2h-tar-'));
    root = join(work, 'root');
    const files: [string, Buffer, number][] = [
      ['usr/local/bin/tool', big, 0o755],
      ['etc/passwd', Buffer.from('root:x:0:0:root:/root:/sbin/nologin\n'), 0o644],
      ['etc/empty', Buffer.alloc(0), 0o600],
      ['a/b', Buffer.from('b'), 0o644],
      ['a-b', Buffer.from('a-b'), 0o644],
      ['a.b', Buffer.from('a.b'), 0o644],
      [LONG_FILE, Buffer.from('long'), 0o644],
    ];
    const dirs = ['a', 'etc', 'tmp', 'usr', 'usr/lib', LONG_DIR, 'usr/local', 'usr/local/bin', 'usr/sbin'];
    for (const d of dirs) await mkdir(join(root, d), { recursive: true });
    for (const [p, content, mode] of files) {
      await writeFile(join(root, p), content);
      await chmod(join(root, p), mode);
    }
    await symlink('../local/bin/tool', join(root, 'usr/sbin/tool'));
    await symlink('usr/lib', join(root, 'lib'));
    const longTarget = `/${LONG_FILE}/${'t'.repeat(10)}`;
    await symlink(longTarget, join(root, 'usr/sbin/long-target'));
    for (const d of dirs) await chmod(join(root, d), d === 'tmp' ? 0o1777 : 0o755);
    await chmod(root, 0o755);

    // The same tree for our writer, deliberately out of order and without most parent directories.
    entries = [
      { type: 'symlink', path: '/usr/sbin/long-target', target: longTarget },
      ...files.map(([p, content, mode]): TarEntry =>
        p === 'usr/local/bin/tool'
          ? { type: 'file', path: `/${p}`, mode, source: join(root, p) }
          : { type: 'file', path: p, mode, content },
      ),
      { type: 'symlink', path: 'lib', target: 'usr/lib' },
      { type: 'dir', path: '/tmp/', mode: 0o1777 },
      { type: 'symlink', path: 'usr/sbin/tool', target: '../local/bin/tool' },
    ];
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  const writeOurs = async (file: string): Promise<void> => {
    await pipeline(Readable.from(tarStream(entries)), createWriteStream(file));
  };

  it('lists exactly like GNU tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 of the same tree', async () => {
    const ours = join(work, 'ours.tar');
    const theirs = join(work, 'gnu.tar');
    await writeOurs(ours);
    await gnuTar([
      '--sort=name',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--mtime=@0',
      '--format=pax',
      '-C',
      root,
      '-cf',
      theirs,
      'a',
      'a-b',
      'a.b',
      'etc',
      'lib',
      'tmp',
      'usr',
    ]);
    const listOurs = await gnuTar(['--numeric-owner', '-tvf', ours]);
    const listTheirs = await gnuTar(['--numeric-owner', '-tvf', theirs]);
    expect(listOurs.stderr).toBe('');
    expect(listOurs.stdout).toBe(listTheirs.stdout);
    // Sanity: the listing has what we think (a long name, a directory before its children, the sticky /tmp).
    const lines = listOurs.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/).slice(5).join(' '))).toContain(LONG_FILE);
    expect(lines.findIndex((l) => l.endsWith(' a/'))).toBeLessThan(lines.findIndex((l) => l.endsWith(' a/b')));
    expect(lines.findIndex((l) => l.endsWith(' a/b'))).toBeLessThan(lines.findIndex((l) => l.endsWith(' a-b')));
    expect(lines.find((l) => l.endsWith(' tmp/'))).toMatch(/^drwxrwxrwt 0\/0 /);
    expect(lines.find((l) => l.includes(' usr/local/bin/tool'))).toMatch(
      new RegExp(`^-rwxr-xr-x 0/0 +${big.length} 1970-01-01 00:00 `),
    );
  });

  it('extracts with GNU tar to the same bytes and links', async () => {
    const ours = join(work, 'ours2.tar');
    const out = join(work, 'out');
    await writeOurs(ours);
    await mkdir(out);
    await gnuTar(['-C', out, '-xf', ours]);
    expect((await readFile(join(out, 'usr/local/bin/tool'))).equals(big)).toBe(true);
    expect(await readFile(join(out, LONG_FILE), 'utf8')).toBe('long');
    const { stdout } = await run('readlink', [join(out, 'usr/sbin/tool')]);
    expect(stdout.trim()).toBe('../local/bin/tool');
  });

  it('gives the same bytes for the same entries in any order', async () => {
    const collect = async (es: TarEntry[]): Promise<Buffer> => {
      const parts: Buffer[] = [];
      for await (const c of tarStream(es)) parts.push(c);
      return Buffer.concat(parts);
    };
    const a = await collect(entries);
    const b = await collect([...entries].reverse());
    expect(a.equals(b)).toBe(true);
    expect(a.length % 512).toBe(0);
  });

  it('refuses .. paths, conflicting duplicates and a file used as a parent', () => {
    expect(() => planTar([{ type: 'dir', path: 'a/../b', mode: 0o755 }])).toThrow(/'\.\.'/);
    expect(() =>
      planTar([
        { type: 'file', path: 'x', mode: 0o644, content: Buffer.from('1') },
        { type: 'file', path: '/x', mode: 0o644, content: Buffer.from('2') },
      ]),
    ).toThrow(/two different entries for 'x'/);
    expect(() =>
      planTar([
        { type: 'file', path: 'x', mode: 0o644, content: Buffer.from('1') },
        { type: 'file', path: 'x/y', mode: 0o644, content: Buffer.from('2') },
      ]),
    ).toThrow(/'x' is a file and a parent/);
  });

  it('fails when a source file changes size while the header already promised its size', async () => {
    const f = join(work, 'shrinks');
    await writeFile(f, Buffer.alloc(5000, 1));
    const gen = tarStream([{ type: 'file', path: 'f', mode: 0o644, source: f }]);
    await gen.next(); // header written with size 5000
    await writeFile(f, Buffer.alloc(100, 1));
    await expect(
      (async () => {
        for await (const _ of gen) void _;
      })(),
    ).rejects.toThrow(/changed size while being read \(5000 -> 100\)/);
  });

  it('writes PAX records whose length prefix counts itself', () => {
    for (const v of ['x', 'y'.repeat(90), 'z'.repeat(94), 'w'.repeat(995)]) {
      const r = paxRecord('path', v);
      expect(Buffer.byteLength(r)).toBe(Number(r.split(' ')[0]));
    }
  });
});
