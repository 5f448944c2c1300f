// One Debian binary package written from a spec: a staging tree with fixed modes and mtimes, a control file, and
// `dpkg-deb --root-owner-group` with SOURCE_DATE_EPOCH, so the same inputs give a byte-identical .deb on any machine.
// Generic on purpose (etcd-debs.ts uses it; debs.ts keeps its own writer for kubeadm, kubelet and kubectl).
import { chmod, copyFile, mkdir, rm, stat, utimes, writeFile, constants } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from '../proc.js';
import { debFileName, sha256File } from './debs.js';

/** A file in the package: copied from `source` or written from `content`. */
export type DebFileSpec = { path: string; mode: number } & ({ source: string } | { content: string });

export interface DebSpec {
  package: string;
  /** Full Debian version, e.g. 3.6.5-0k2h1. */
  version: string;
  architecture: string;
  maintainer: string;
  section: string;
  priority?: string;
  homepage?: string;
  /** Relationship fields, written only when set. */
  depends?: string;
  recommends?: string;
  breaks?: string;
  replaces?: string;
  /** First line of Description. */
  summary: string;
  /** The extended description, one or more lines. */
  description: string;
  files: DebFileSpec[];
  /** Empty directories the package owns. */
  dirs?: string[];
  /** Maintainer scripts (DEBIAN/preinst…), written with mode 0755. */
  scripts?: Partial<Record<'preinst' | 'postinst' | 'prerm' | 'postrm', string>>;
}

export interface WrittenDeb {
  package: string;
  version: string;
  architecture: string;
  file: string;
  sha256: string;
  size: number;
}

/** Writes `<package>_<version>_<arch>.deb` into outDir (its staging tree is made there and removed). `epoch` is the
 * mtime of every entry and dpkg-deb's SOURCE_DATE_EPOCH: a constant, never the build time. */
export async function writeDeb(spec: DebSpec, outDir: string, epoch: number): Promise<WrittenDeb> {
  const root = join(outDir, `root-${spec.package}`);
  await rm(root, { recursive: true, force: true });
  for (const f of spec.files) {
    const abs = join(root, f.path);
    await mkdir(dirname(abs), { recursive: true });
    if ('source' in f) await copyFile(f.source, abs, constants.COPYFILE_FICLONE);
    else await writeFile(abs, f.content);
    await chmod(abs, f.mode);
  }
  for (const d of spec.dirs ?? []) await mkdir(join(root, d), { recursive: true });

  // Installed-Size in KiB, as dpkg-gencontrol counts it: each file rounded up, plus one per directory.
  const dirs = new Set<string>();
  for (const p of [...spec.files.map((f) => f.path), ...(spec.dirs ?? []).map((d) => `${d}/x`)]) {
    for (let d = dirname(p); d !== '/'; d = dirname(d)) dirs.add(d);
  }
  let kib = dirs.size;
  for (const f of spec.files) kib += Math.ceil((await stat(join(root, f.path))).size / 1024);

  const field = (name: string, value: string | undefined) => (value ? [`${name}: ${value}`] : []);
  const control = [
    `Package: ${spec.package}`,
    `Version: ${spec.version}`,
    `Architecture: ${spec.architecture}`,
    `Maintainer: ${spec.maintainer}`,
    `Installed-Size: ${kib}`,
    ...field('Depends', spec.depends),
    ...field('Recommends', spec.recommends),
    ...field('Breaks', spec.breaks),
    ...field('Replaces', spec.replaces),
    `Section: ${spec.section}`,
    `Priority: ${spec.priority ?? 'optional'}`,
    ...field('Homepage', spec.homepage),
    `Description: ${spec.summary}`,
    // Extended description lines start with a space; an empty line is written " ." (Debian policy 5.6.13).
    ...spec.description.split('\n').map((l) => (l.trim() ? ` ${l}` : ' .')),
    '',
  ].join('\n');
  await mkdir(join(root, 'DEBIAN'), { recursive: true });
  await writeFile(join(root, 'DEBIAN', 'control'), control);
  await chmod(join(root, 'DEBIAN', 'control'), 0o644);
  const scripts = Object.entries(spec.scripts ?? {}).sort(([a], [b]) => a.localeCompare(b));
  for (const [name, text] of scripts) {
    await writeFile(join(root, 'DEBIAN', name), text);
    await chmod(join(root, 'DEBIAN', name), 0o755);
  }

  // Fixed modes (not the umask's) and mtimes on every directory and file.
  for (const d of [...dirs, '/DEBIAN', '/']) await chmod(join(root, d), 0o755);
  const debian = ['/DEBIAN/control', ...scripts.map(([name]) => `/DEBIAN/${name}`)];
  for (const p of [...spec.files.map((f) => f.path), ...debian, ...dirs, '/DEBIAN', '/']) {
    await utimes(join(root, p), epoch, epoch);
  }

  const file = join(outDir, debFileName(spec.package, spec.version, spec.architecture));
  // gzip -6: about 2.5x faster than dpkg-deb's default -9 for 1% larger files, and unlike zstd every dpkg reads it.
  await run('nice', ['-n', '19', 'dpkg-deb', '--root-owner-group', '-Zgzip', '-z6', '--build', root, file], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
  });
  await rm(root, { recursive: true, force: true });
  const [sha256, st] = await Promise.all([sha256File(file), stat(file)]);
  return {
    package: spec.package,
    version: spec.version,
    architecture: spec.architecture,
    file,
    sha256,
    size: st.size,
  };
}
