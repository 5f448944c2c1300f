// A set of .deb packages built from some binaries, cached as one directory: reused while the binaries' sha256 and
// the packaging layout are unchanged, otherwise built again into a temporary directory that is renamed into place
// at the end (a killed build never leaves half a package; a concurrent build of the same set is harmless).
// Shared by the Kubernetes packages (debs.ts) and the etcd packages (etcd-debs.ts).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { WrittenDeb } from './deb-package.js';

/** A package in the cache: what deb-package.ts's writeDeb describes, its file under the cache directory. */
export type CachedDeb = WrittenDeb;

export interface DebSet<D extends CachedDeb> {
  debs: D[];
  /** True when the cache already held packages built from these very binaries. */
  cached: boolean;
  /** Build time per package in ms (empty on a cache hit). */
  buildMs: Record<string, number>;
}

export interface DebSetOptions<D extends CachedDeb> {
  dir: string;
  /** Bumped when the package contents or control fields change, so an old cache is rebuilt, not reused. */
  layout: number;
  /** sha256 of every input binary: other binaries, other packages. */
  binaries: Record<string, string>;
  packages: readonly D['package'][];
  /** Writes one package into `tmp` and describes it. */
  build: (pkg: D['package'], tmp: string) => Promise<D>;
  log: (line: string) => void;
}

interface DoneMarker {
  layout: number;
  binaries: Record<string, string>;
  debs: Omit<CachedDeb, 'file'>[];
}

export async function cachedDebSet<D extends CachedDeb>(o: DebSetOptions<D>): Promise<DebSet<D>> {
  const hit = await readMarker<D>(o.dir, o.layout, o.binaries);
  if (hit) return { debs: hit, cached: true, buildMs: {} };
  const tmp = `${o.dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(tmp, { recursive: true });
  try {
    const debs: D[] = [];
    const buildMs: Record<string, number> = {};
    for (const pkg of o.packages) {
      const t0 = performance.now();
      const deb = await o.build(pkg, tmp);
      buildMs[pkg] = Math.round(performance.now() - t0);
      o.log(`built ${basename(deb.file)} (${(deb.size / 1e6).toFixed(1)} MB) in ${buildMs[pkg]} ms`);
      debs.push(deb);
    }
    const marker: DoneMarker = {
      layout: o.layout,
      binaries: o.binaries,
      debs: debs.map(({ package: p, version, architecture, sha256, size }) => ({
        package: p,
        version,
        architecture,
        sha256,
        size,
      })),
    };
    // Written last, inside the directory that is renamed into place: if it is there, so are the files.
    await writeFile(join(tmp, '.done'), JSON.stringify(marker, null, 2) + '\n');
    await install(tmp, o.dir, o.layout, o.binaries);
    return { debs: debs.map((d) => ({ ...d, file: join(o.dir, basename(d.file)) })), cached: false, buildMs };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Another process may have finished the same build first: keep its result when it matches these binaries,
 * replace it when it is stale. */
async function install(tmp: string, dir: string, layout: number, binaries: Record<string, string>): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  try {
    await rename(tmp, dir);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  if (await readMarker(dir, layout, binaries)) return;
  const old = `${dir}.old-${process.pid}-${randomBytes(4).toString('hex')}`;
  await rename(dir, old);
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}

async function readMarker<D extends CachedDeb>(
  dir: string,
  layout: number,
  binaries: Record<string, string>,
): Promise<D[] | undefined> {
  let marker: DoneMarker;
  try {
    marker = JSON.parse(await readFile(join(dir, '.done'), 'utf8')) as DoneMarker;
  } catch {
    return undefined;
  }
  if (marker.layout !== layout) return undefined;
  const sums = Object.entries(binaries);
  if (sums.length !== Object.keys(marker.binaries).length || sums.some(([b, s]) => marker.binaries[b] !== s)) {
    return undefined;
  }
  const debs = marker.debs.map((d) => ({ ...d, file: join(dir, debFileName(d.package, d.version, d.architecture)) }));
  // A size check still catches a cache someone edited by hand.
  for (const d of debs) {
    const st = await stat(d.file).catch(() => undefined);
    if (!st || st.size !== d.size) return undefined;
  }
  return debs as D[];
}

/** Debian's file name for a package: `kubeadm_1.34.12-1.1_amd64.deb`. */
export function debFileName(pkg: string, version: string, arch: string): string {
  return `${pkg}_${version}_${arch}.deb`;
}
