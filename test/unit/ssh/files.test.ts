import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CommandFailedError, InvalidInputError } from '../../../src/errors.js';
import { putFile } from '../../../src/ssh/files.js';
import { localShell } from './local-shell.js';

// putFile's remote scripts run here with the local sh (see local-shell.ts), on a temp directory.
const dir = await mkdtemp(join(tmpdir(), 'k2h-files-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o7777;

describe('putFile (local shell stand-in for a host)', () => {
  it('creates parent directories, writes content and mode, then skips an identical upload', async () => {
    const host = localShell();
    const target = join(dir, "a b/it's $(x)/file.conf");
    expect(await putFile(host, target, 'hello\n', { mode: 0o640 })).toEqual({ changed: true });
    expect(await readFile(target, 'utf8')).toBe('hello\n');
    expect(await mode(target)).toBe(0o640);
    const mtime = (await stat(target)).mtimeMs;

    host.lines.length = 0;
    expect(await putFile(host, target, Buffer.from('hello\n'), { mode: 0o640 })).toEqual({ changed: false });
    expect(host.lines).toHaveLength(1); // only the probe ran
    expect((await stat(target)).mtimeMs).toBe(mtime);
  });

  it('writes into a directory whose name ends with a newline, not next to it', async () => {
    const host = localShell();
    const sub = join(dir, 'nl');
    const target = join(`${sub}\n`, 'f');
    expect(await putFile(host, target, 'x', { mode: 0o644 })).toEqual({ changed: true });
    expect(await readFile(target, 'utf8')).toBe('x');
    await expect(stat(sub)).rejects.toThrow(/ENOENT/);
  });

  it('fixes only the mode when the content already matches', async () => {
    const host = localShell();
    const target = join(dir, 'mode-only');
    await writeFile(target, 'same');
    host.lines.length = 0;
    expect(await putFile(host, target, 'same', { mode: 0o600 })).toEqual({ changed: true });
    expect(await mode(target)).toBe(0o600);
    expect(host.lines.some((l) => l.includes('cat >'))).toBe(false);
  });

  it('replaces content and leaves no temp file behind', async () => {
    const host = localShell();
    const sub = join(dir, 'replace');
    const target = join(sub, 'f');
    await putFile(host, target, 'old', { mode: 0o644 });
    await putFile(host, target, 'new content', { mode: 0o644 });
    expect(await readFile(target, 'utf8')).toBe('new content');
    expect(await readdir(sub)).toEqual(['f']);
  });

  it('keeps the old file when the upload arrives truncated (simulated by cutting stdin)', async () => {
    const host = localShell({ mangleStdin: (b) => b.subarray(0, b.length - 1) });
    const sub = join(dir, 'truncated');
    const target = join(sub, 'f');
    await mkdir(sub);
    await writeFile(target, 'old');
    await expect(putFile(host, target, 'new content', { mode: 0o644 })).rejects.toThrow(/checksum differs/);
    expect(await readFile(target, 'utf8')).toBe('old');
    expect(await readdir(sub)).toEqual(['f']);
  });

  it('refuses a directory as the target instead of moving the file into it', async () => {
    const host = localShell();
    const target = join(dir, 'adir');
    await mkdir(target);
    await expect(putFile(host, target, 'x', { mode: 0o644 })).rejects.toThrow(CommandFailedError);
    await expect(putFile(host, target, 'x', { mode: 0o644 })).rejects.toThrow(/is a directory/);
    expect(await readdir(target)).toEqual([]);
  });

  it('refuses relative paths and bad modes before touching the host', async () => {
    const host = localShell();
    await expect(putFile(host, 'rel/path', 'x', { mode: 0o644 })).rejects.toThrow(InvalidInputError);
    await expect(putFile(host, join(dir, 'm'), 'x', { mode: 0o10000 })).rejects.toThrow(InvalidInputError);
    expect(host.lines).toEqual([]);
  });
});
