// Copies programs of this machine into an image the way a distro-based base image has them: the program, every
// symlink on the way to it (iptables -> iptables-nft -> xtables-nft-multi), the shared libraries `ldd` names and
// the dynamic loader, each at its real path, plus the merged-/usr top-level links (/lib -> usr/lib) that make the
// loader's and libraries' well-known paths resolve. Debian's /etc/alternatives indirection is collapsed: the image
// gets a direct link to whichever variant this machine selected, since it has no update-alternatives database.
import { execFile } from 'node:child_process';
import { lstat, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { ImageFile, ImageSymlink } from './oci-layout.js';

const ALTERNATIVES = '/etc/alternatives';

export interface HostFileSet {
  files: ImageFile[];
  symlinks: ImageSymlink[];
}

/** Collects host paths (and their libraries) into one set without duplicates. */
export class HostFiles {
  private readonly files = new Map<string, ImageFile>();
  private readonly links = new Map<string, ImageSymlink>();
  private readonly elfs = new Set<string>();

  /** `path` as it is on this machine: symlink chain, final file; ELF files get their libraries later. */
  async add(path: string): Promise<void> {
    let p = path;
    for (let hops = 0; hops < 40; hops++) {
      const parent = await realpath(dirname(p));
      const here = join(parent, basename(p));
      const st = await lstat(here);
      if (st.isSymbolicLink()) {
        const target = await readlink(here);
        let abs = resolve(parent, target);
        let viaAlternatives = false;
        while (abs.startsWith(`${ALTERNATIVES}/`)) {
          viaAlternatives = true;
          abs = resolve(ALTERNATIVES, await readlink(abs));
        }
        if (!here.startsWith(`${ALTERNATIVES}/`)) {
          // Keep the distro's own relative spelling; an alternatives hop becomes a relative link to its choice.
          const linkTarget = viaAlternatives ? relative(parent, abs) : target;
          this.links.set(here, { path: here, target: linkTarget });
        }
        p = abs;
        continue;
      }
      if (!st.isFile()) throw new Error(`${path}: ${here} is neither a file nor a symlink`);
      if (!this.files.has(here)) {
        this.files.set(here, { path: here, source: here, mode: st.mode & 0o7777 });
        this.elfs.add(here);
      }
      return;
    }
    throw new Error(`${path}: too many symlinks`);
  }

  /** Adds the shared libraries (and loader) of every file added so far, via ldd; non-ELF/static files add none. */
  async addLibraries(): Promise<void> {
    const libs = await lddPaths([...this.elfs]);
    this.elfs.clear();
    for (const lib of libs) await this.add(lib);
    this.elfs.clear(); // ldd already listed libraries' own dependencies
    // Top-level merged-/usr links (/lib64 -> usr/lib64): the ELF interpreter path is /lib64/ld-linux-x86-64.so.2.
    for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
      const st = await lstat(top).catch(() => undefined);
      if (st?.isSymbolicLink()) this.links.set(top, { path: top, target: await readlink(top) });
    }
  }

  result(): HostFileSet {
    const byPath = (a: { path: string }, b: { path: string }): number => (a.path < b.path ? -1 : 1);
    return { files: [...this.files.values()].sort(byPath), symlinks: [...this.links.values()].sort(byPath) };
  }
}

/** Absolute library paths ldd prints for `files` ("libc.so.6 => /lib/… (0x…)" and the loader's own line), one
 * ldd run for all (a static file only prints "not a dynamic executable", and ldd then exits 1). */
export async function lddPaths(files: string[]): Promise<string[]> {
  if (files.length === 0) return [];
  const out = await new Promise<string>((resolvePromise, reject) => {
    execFile('ldd', files, { env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' }, maxBuffer: 1 << 24 }, (err, stdout) => {
      if (err && typeof err.code !== 'number') reject(new Error(`ldd: ${err.message}`));
      else resolvePromise(stdout);
    });
  });
  const paths = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)\s+\(/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) paths.add(m[1]!);
    else if (/=>\s+not found/.test(line)) throw new Error(`ldd: a library is missing: ${line.trim()}`);
  }
  return [...paths].sort();
}
