// A deterministic tar writer for image layers: the same entries always give the same bytes, whatever the files'
// owners, times or the order they were named in. Owner and group 0, mtime 0, entries sorted component by component
// (a directory comes right before its children, as GNU tar --sort=name recurses), missing parent directories added.
// ustar headers; a PAX extended header only where ustar cannot say it (long or non-ASCII names, huge sizes), so
// every tar reader understands the result. File contents stream from disk: layers hold 100 MB binaries.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';

const BLOCK = 512;

export type TarEntry =
  | { type: 'file'; path: string; mode: number; source: string }
  | { type: 'file'; path: string; mode: number; content: Buffer }
  | { type: 'dir'; path: string; mode: number }
  | { type: 'symlink'; path: string; target: string };

/** A path inside the archive: relative, '/'-separated, no '.', '..' or empty components. */
export function normalizeTarPath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) throw new Error(`tar: empty path '${path}'`);
  if (parts.includes('..')) throw new Error(`tar: '..' in path '${path}'`);
  if (parts.some((p) => p.includes('\0'))) throw new Error(`tar: NUL in path '${JSON.stringify(path)}'`);
  return parts.join('/');
}

/** Component-wise byte order: 'a' < 'a/b' < 'a-b' (GNU tar's recursion order), unlike a plain string sort. */
function comparePaths(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = Buffer.compare(Buffer.from(pa[i]!), Buffer.from(pb[i]!));
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}

/** Entries normalised, de-duplicated (same path twice is an error unless identical), parents added, sorted. */
export function planTar(entries: readonly TarEntry[]): TarEntry[] {
  const byPath = new Map<string, TarEntry>();
  for (const e of entries) {
    const path = normalizeTarPath(e.path);
    const n = { ...e, path };
    const prev = byPath.get(path);
    if (prev && JSON.stringify(describe(prev)) !== JSON.stringify(describe(n))) {
      throw new Error(`tar: two different entries for '${path}'`);
    }
    byPath.set(path, n);
  }
  for (const path of [...byPath.keys()]) {
    for (let dir = posix.dirname(path); dir !== '.'; dir = posix.dirname(dir)) {
      const existing = byPath.get(dir);
      if (existing && existing.type !== 'dir') throw new Error(`tar: '${dir}' is a ${existing.type} and a parent`);
      if (!existing) byPath.set(dir, { type: 'dir', path: dir, mode: 0o755 });
    }
  }
  return [...byPath.values()].sort((a, b) => comparePaths(a.path, b.path));
}

function describe(e: TarEntry): unknown {
  if (e.type === 'file') return ['file', e.mode, 'source' in e ? e.source : e.content.toString('base64')];
  if (e.type === 'dir') return ['dir', e.mode];
  return ['symlink', e.target];
}

/**
 * The archive as a stream of chunks (headers, file data, padding, end-of-archive). A source file whose size changes
 * while it is read is an error: the header already promised a size.
 */
export async function* tarStream(entries: readonly TarEntry[]): AsyncGenerator<Buffer> {
  for (const e of planTar(entries)) {
    if (e.type === 'dir') {
      yield* headers(`${e.path}/`, '5', e.mode, 0, '');
    } else if (e.type === 'symlink') {
      yield* headers(e.path, '2', 0o777, 0, e.target);
    } else if ('content' in e) {
      yield* headers(e.path, '0', e.mode, e.content.length, '');
      if (e.content.length) yield e.content;
      yield* padding(e.content.length);
    } else {
      const st = await stat(e.source);
      if (!st.isFile()) throw new Error(`tar: ${e.source} (for ${e.path}) is not a regular file`);
      yield* headers(e.path, '0', e.mode, st.size, '');
      let read = 0;
      for await (const chunk of createReadStream(e.source, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        read += chunk.length;
        if (read > st.size) break;
        yield chunk;
      }
      if (read !== st.size) throw new Error(`tar: ${e.source} changed size while being read (${st.size} -> ${read})`);
      yield* padding(st.size);
    }
  }
  yield Buffer.alloc(BLOCK * 2);
}

function* padding(size: number): Generator<Buffer> {
  const rest = size % BLOCK;
  if (rest) yield Buffer.alloc(BLOCK - rest);
}

const MAX_OCTAL_SIZE = 0o77777777777; // 11 octal digits: 8 GiB - 1

/** The ustar header for one entry, preceded by a PAX header when a field does not fit. */
function* headers(name: string, type: string, mode: number, size: number, linkname: string): Generator<Buffer> {
  const pax: [string, string][] = [];
  if (!fitsUstar(name, 100)) pax.push(['path', name]);
  if (!fitsUstar(linkname, 100)) pax.push(['linkpath', linkname]);
  if (size > MAX_OCTAL_SIZE) pax.push(['size', String(size)]);
  if (pax.length) {
    const body = Buffer.from(pax.map(([k, v]) => paxRecord(k, v)).join(''), 'utf8');
    // The PAX header's own name is informational; GNU tar's shape, without the pid, so it is deterministic.
    const base = posix.basename(name.replace(/\/$/, ''));
    const paxName = asciiPrefix(`PaxHeaders/${base}`, 100);
    yield ustarHeader(paxName, 'x', 0o644, body.length, '');
    yield body;
    yield* padding(body.length);
  }
  yield ustarHeader(
    fitsUstar(name, 100) ? name : asciiPrefix(name, 100),
    type,
    mode,
    Math.min(size, MAX_OCTAL_SIZE),
    fitsUstar(linkname, 100) ? linkname : asciiPrefix(linkname, 100),
  );
}

const fitsUstar = (s: string, max: number): boolean => Buffer.byteLength(s) <= max && /^[\x20-\x7e]*$/.test(s);

/** A fallback for readers that ignore PAX: the ASCII-only prefix of the name, cut to fit. */
function asciiPrefix(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, '_').slice(0, max);
}

/** "<len> key=value\n" where len counts the whole record including its own digits. */
export function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  const restLen = Buffer.byteLength(rest);
  let len = restLen + String(restLen).length;
  if (String(len).length + restLen !== len) len = restLen + String(len).length;
  return `${len}${rest}`;
}

function ustarHeader(name: string, type: string, mode: number, size: number, linkname: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, mode & 0o7777);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, 0); // mtime
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h.write(type, 156, 1, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  // uname/gname empty: readers show the numeric ids (0/0), as `tar --numeric-owner` would write.
  octal(h, 329, 8, 0); // devmajor
  octal(h, 337, 8, 0); // devminor
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** Zero-padded octal with a trailing NUL, filling the field. */
function octal(h: Buffer, offset: number, width: number, value: number): void {
  h.write(value.toString(8).padStart(width - 1, '0') + '\0', offset, width, 'ascii');
}
