// Local state is private to the operator: the dev server's SQLite files hold every workflow's history (payloads are
// encrypted, but ids, search attributes and failure types are not), the clusters/ store holds CA keys, the config
// directory the codec keyring and the Web UI secret. Directories are 0700 and files 0600, whatever the umask was
// when an older version created them.
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { configDir, stateDir } from './paths.js';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** mkdir -p, then 0700 on the directory itself (mkdir's mode does not apply to a directory that already existed). */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await chmod(dir, PRIVATE_DIR_MODE);
}

/**
 * Takes group and other bits off everything under root (root included) that this user owns: directories become
 * 0700, files keep only their owner bits (0600, or 0700 for an executable). Symlinks are not followed; entries of
 * other users are left alone (chmod would fail on them anyway). A missing root is fine. Returns the paths it changed.
 */
export async function tightenTree(root: string): Promise<string[]> {
  const uid = process.getuid?.();
  const changed: string[] = [];
  const visit = async (path: string): Promise<void> => {
    let st;
    try {
      st = await lstat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (st.isSymbolicLink() || (uid !== undefined && st.uid !== uid)) return;
    const mode = st.mode & 0o7777;
    if (st.isDirectory()) {
      if (mode !== PRIVATE_DIR_MODE) {
        await chmod(path, PRIVATE_DIR_MODE);
        changed.push(path);
      }
      for (const name of await readdir(path)) await visit(join(path, name));
    } else if (st.isFile() && (mode & 0o077) !== 0) {
      await chmod(path, mode & 0o700);
      changed.push(path);
    }
  };
  await visit(root);
  return changed;
}

/** Runs fn with umask 077, so whatever it creates (a spawned server's SQLite and log files too) is private. */
export function withPrivateUmask<T>(fn: () => T): T {
  const old = process.umask(0o077);
  try {
    return fn();
  } finally {
    process.umask(old);
  }
}

/** The operator's whole state and config directories, private again (installs made by older versions were not). */
export async function secureLocalState(): Promise<void> {
  await tightenTree(stateDir());
  await tightenTree(configDir());
}
