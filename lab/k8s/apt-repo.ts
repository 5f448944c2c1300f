// A flat apt repository (`deb <url> ./`) in a directory: the .deb files, Packages and Packages.gz from
// `dpkg-scanpackages -m` (every version, so kubeadm 1.33.13 and 1.34.12 can sit side by side), a Release file with
// sizes and SHA256 sums, and — when gpg is installed — InRelease signed with a key made at run time.
//
// Signed by default because that is what operators run: pkgs.k8s.io is signed and hosts name its key with
// `signed-by=`, so the lab exercises the same apt path (InRelease fetched and verified by gpgv) and a tampered index
// fails here as it would there. `[trusted=yes]` is the fallback when gpg (or its gpg-agent) is missing, and AptRepo.signed says which.
// The private key lives next to the repository, never inside it (the directory is served over HTTP), in the lab's
// own directory, so it is made fresh per lab and never committed.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, link, mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface AptRepoOptions {
  /** `auto` (default): sign when gpg is installed; `always`: fail without gpg; `never`: clients need trusted=yes. */
  sign?: 'auto' | 'always' | 'never';
  /** GnuPG home holding the signing key; default `<dir>.gnupg`. Must be outside `dir`. Reused when it has a key,
   * so clients configured for this repository keep trusting it when packages are added. */
  gnupgHome?: string;
}

export interface AptRepoPackage {
  package: string;
  version: string;
  architecture: string;
  filename: string;
}

export interface AptRepo {
  dir: string;
  /** What Packages lists, in its order. */
  packages: AptRepoPackage[];
  signed: boolean;
  /** Binary OpenPGP public key for clients' `signed-by=` (only when signed). Also served as `Release.key`. */
  keyringFile?: string;
  /** Fingerprint of the signing key (only when signed). */
  fingerprint?: string;
  /** Time to link the files, scan and write the indexes, and sign. */
  indexMs: number;
}

/** Origin/Label the Release file carries; `apt-cache policy` shows them (o=, l=). */
export const APT_REPO_ORIGIN = 'kubeadm2ha-lab';
export const APT_REPO_LABEL = 'kubeadm2ha lab Kubernetes packages';
const KEY_UID = 'kubeadm2ha lab apt repository <apt-repo@kubeadm2ha.invalid>';

/**
 * Makes `dir` a flat repository holding exactly `debs` (links to them when on the same filesystem, copies
 * otherwise; .deb files not in the list are removed), and rewrites its indexes. Safe to call again with more
 * packages: the same directory then serves all of them.
 */
export async function writeAptRepo(
  dir: string,
  debs: readonly { file: string }[],
  opts: AptRepoOptions = {},
): Promise<AptRepo> {
  const t0 = performance.now();
  const root = resolve(dir);
  const gnupgHome = resolve(opts.gnupgHome ?? `${root}.gnupg`);
  const rel = relative(root, gnupgHome);
  if (!rel || (!rel.startsWith('..') && !isAbsolute(rel))) {
    throw new Error(`the signing key's GnuPG home ${gnupgHome} must be outside the served repository ${root}`);
  }
  const names = debs.map((d) => basename(d.file));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`two packages with the same file name ${dup}`);
  if (names.some((n) => !n.endsWith('.deb'))) throw new Error('writeAptRepo takes .deb files only');

  await mkdir(root, { recursive: true });
  for (const name of await readdir(root)) {
    if (name.endsWith('.deb') && !names.includes(name)) await unlink(join(root, name));
  }
  await Promise.all(debs.map((d) => place(d.file, join(root, basename(d.file)))));

  // -m: every version of a package, not just the newest; /dev/null: no override file.
  const packages = await tool('dpkg-scanpackages', ['-m', '.', '/dev/null'], { cwd: root });
  const packagesGz = gzipSync(Buffer.from(packages), { level: 9 });
  await writeAtomic(join(root, 'Packages.gz'), packagesGz);
  await writeAtomic(join(root, 'Packages'), packages);
  const listed = parsePackages(packages);
  const architectures = [...new Set(listed.map((p) => p.architecture))].sort();

  const sums = [
    ['Packages', Buffer.from(packages)],
    ['Packages.gz', packagesGz],
  ] as const;
  const release = [
    `Origin: ${APT_REPO_ORIGIN}`,
    `Label: ${APT_REPO_LABEL}`,
    'Suite: lab',
    'Codename: lab',
    `Date: ${new Date().toUTCString()}`,
    `Architectures: ${architectures.join(' ') || 'all'}`,
    'Description: packages built for the kubeadm2ha test lab',
    'SHA256:',
    ...sums.map(([name, data]) => ` ${createHash('sha256').update(data).digest('hex')} ${data.length} ${name}`),
    '',
  ].join('\n');
  await writeAtomic(join(root, 'Release'), release);

  const signWith = opts.sign ?? 'auto';
  // gpg signs through gpg-agent (a separate package that gpg only recommends): both, or no signing.
  const hasGpg =
    signWith !== 'never' &&
    (await Promise.all([tool('gpg', ['--version']), tool('gpg-agent', ['--version'])]).then(
      () => true,
      () => false,
    ));
  if (!hasGpg && signWith === 'always') {
    throw new Error('signing the apt repository needs gpg and gpg-agent (apt-get install gpg gpg-agent)');
  }
  let key: { keyringFile: string; fingerprint: string } | undefined;
  // A stale signature must never sit next to a new Release (apt would reject the repository as tampered with):
  // signing replaces both files atomically; without signing, or when signing fails, they go.
  const dropSignatures = () =>
    Promise.all(['InRelease', 'Release.gpg', 'Release.key'].map((f) => rm(join(root, f), { force: true })));
  if (hasGpg) {
    try {
      key = await sign(root, gnupgHome);
    } catch (err) {
      await dropSignatures();
      throw err;
    }
  } else {
    await dropSignatures();
  }
  const ms = Math.round(performance.now() - t0);
  return { dir: root, packages: listed, signed: !!key, ...key, indexMs: ms };
}

/** Readers (the mirror serving a host's apt-get update) see the old file or the new one, never half of one. */
async function writeAtomic(path: string, data: string | Buffer): Promise<void> {
  await writeFile(`${path}.tmp`, data);
  await rename(`${path}.tmp`, path);
}

/** Hard link (no copy of 20 MB packages) when the cache and the repository share a filesystem, else a copy. */
async function place(from: string, to: string): Promise<void> {
  const [src, dst] = await Promise.all([stat(from), stat(to).catch(() => undefined)]);
  if (dst && dst.ino === src.ino && dst.dev === src.dev) return;
  if (dst) await unlink(to);
  try {
    await link(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
  }
}

async function sign(root: string, gnupgHome: string): Promise<{ keyringFile: string; fingerprint: string }> {
  await mkdir(gnupgHome, { recursive: true, mode: 0o700 });
  await chmod(gnupgHome, 0o700);
  const env = { ...process.env, GNUPGHOME: gnupgHome };
  const gpg = (args: string[]): Promise<string> => tool('gpg', ['--batch', '--quiet', ...args], { env });
  try {
    let fingerprint = firstFingerprint(await gpg(['--with-colons', '--list-secret-keys']).catch(() => ''));
    if (!fingerprint) {
      // No passphrase: the key only ever signs this lab's index, and lives and dies with the lab directory.
      await gpg(['--passphrase', '', '--quick-gen-key', KEY_UID, 'ed25519', 'sign', 'never']);
      fingerprint = firstFingerprint(await gpg(['--with-colons', '--list-secret-keys']));
    }
    if (!fingerprint) throw new Error(`gpg made no signing key in ${gnupgHome}`);
    const keyringFile = join(gnupgHome, 'kubeadm2ha-lab-archive-keyring.gpg');
    await gpg(['--yes', '--output', keyringFile, '--export', fingerprint]);
    await gpg(['--yes', '--armor', '--output', join(root, 'Release.key'), '--export', fingerprint]);
    const signArgs = ['--yes', '--local-user', fingerprint, '--digest-algo', 'SHA256'];
    for (const [name, mode] of [
      ['Release.gpg', ['--armor', '--detach-sign']],
      ['InRelease', ['--clearsign']],
    ] as const) {
      await gpg([...signArgs, ...mode, '--output', join(root, `${name}.tmp`), join(root, 'Release')]);
      await rename(join(root, `${name}.tmp`), join(root, name));
    }
    return { keyringFile, fingerprint };
  } finally {
    // gpg starts an agent for this home and leaves it running: stop the one we started.
    await tool('gpgconf', ['--kill', 'gpg-agent'], { env }).catch(() => undefined);
  }
}

function firstFingerprint(colons: string): string | undefined {
  return colons
    .split('\n')
    .find((l) => l.startsWith('fpr:'))
    ?.split(':')[9];
}

/** The stanzas of a Packages file: enough to say what the repository offers. */
export function parsePackages(text: string): AptRepoPackage[] {
  return text
    .split(/\n\s*\n/)
    .map((stanza) => {
      const field = (name: string): string => stanza.match(new RegExp(`^${name}: *(.*)$`, 'm'))?.[1]?.trim() ?? '';
      return {
        package: field('Package'),
        version: field('Version'),
        architecture: field('Architecture'),
        filename: field('Filename'),
      };
    })
    .filter((p) => p.package);
}

/** Reads the Packages file of an existing repository. */
export async function readAptRepoPackages(dir: string): Promise<AptRepoPackage[]> {
  return parsePackages(await readFile(join(dir, 'Packages'), 'utf8'));
}

function tool(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((res, rej) => {
    execFile(file, args, { ...opts, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${file} ${args.join(' ')}: ${err.message}${stderr ? `\n${stderr.trim()}` : ''}`));
      else res(stdout);
    });
  });
}
