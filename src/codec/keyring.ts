// The payload encryption keys: one JSON file ("keyring") with several AES-256 keys, exactly one of them active.
// New payloads are encrypted with the active key; every key in the file still decrypts, so `codec rotate-key`
// never makes old workflow histories unreadable. The file is the only copy of the keys: lose it and encrypted
// history is gone; every worker and CLI that talks to the same Temporal namespace needs the same file.
//
// The file is created 0600 in a 0700 directory on first use, and a file other users could read (or that another
// user owns) is refused, as ssh does with private keys: a key that may have leaked protects nothing.
// Key material lives only in KeyObjects (util.inspect and JSON.stringify show no bytes), never in messages.
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { FailureType, KubeadmHaError } from '../errors.js';
import { configDir } from '../paths.js';

export const KEYRING_ENV = 'KUBEADM2HA_CODEC_KEYRING';
const KEY_BYTES = 32; // AES-256

/** Bad, unreadable or unsafe keyring, or a payload whose key is not in it. Not retryable: a person must act. */
export class CodecKeyError extends KubeadmHaError {
  constructor(message: string) {
    super(message, FailureType.InvalidInput);
    this.name = 'CodecKeyError';
  }
}

export interface CodecKey {
  readonly id: string;
  readonly created: string;
  readonly key: KeyObject;
}

export interface Keyring {
  readonly path: string;
  readonly activeId: string;
  readonly keys: ReadonlyMap<string, CodecKey>;
}

const fileSchema = z.object({
  version: z.literal(1),
  active: z.string().min(1),
  keys: z
    .array(
      z.object({
        id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'key ids are 1-64 of [A-Za-z0-9._-]'),
        created: z.string(),
        key: z.string(),
      }),
    )
    .min(1),
});
type KeyringFile = z.infer<typeof fileSchema>;

/** $KUBEADM2HA_CODEC_KEYRING, else `codec-keyring.json` in the user's config directory. */
export function keyringPath(env: NodeJS.ProcessEnv = process.env): string {
  return env[KEYRING_ENV] || configDir('codec-keyring.json');
}

/**
 * Reads and checks the keyring. With `create`, a missing file is created with one fresh key (atomically: when
 * several processes start at once, exactly one file wins and everybody uses it).
 */
export async function loadKeyring(path: string, opts: { create?: boolean } = {}): Promise<Keyring> {
  try {
    return await readKeyring(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (!opts.create) {
      throw new CodecKeyError(
        `no codec keyring at ${path}. It is created by the first kubeadm2ha command that starts a workflow; ` +
          `to read payloads written elsewhere, copy that machine's keyring here (mode 0600) or set ${KEYRING_ENV}.`,
      );
    }
  }
  const first = newKey();
  await publishNew(path, { version: 1, active: first.id, keys: [first] });
  return readKeyring(path);
}

/** Adds a fresh key and makes it the active one; older keys stay for decryption. Returns the new and old ids. */
export async function rotateKey(path: string): Promise<{ id: string; previous: string; keyCount: number }> {
  return withLock(path, async () => {
    const current = await readKeyringFile(path);
    const next = newKey();
    const updated: KeyringFile = { version: 1, active: next.id, keys: [...current.keys, next] };
    const tmp = await writeTemp(path, updated);
    await rename(tmp, path);
    return { id: next.id, previous: current.active, keyCount: updated.keys.length };
  });
}

async function readKeyring(path: string): Promise<Keyring> {
  const file = await readKeyringFile(path);
  const keys = new Map<string, CodecKey>();
  for (const k of file.keys) {
    const bytes = Buffer.from(k.key, 'base64');
    if (bytes.length !== KEY_BYTES) {
      throw new CodecKeyError(`codec keyring ${path}: key ${k.id} is not ${KEY_BYTES} bytes of base64`);
    }
    if (keys.has(k.id)) throw new CodecKeyError(`codec keyring ${path}: key id ${k.id} appears twice`);
    keys.set(k.id, { id: k.id, created: k.created, key: createSecretKey(bytes) });
    bytes.fill(0);
  }
  if (!keys.has(file.active)) {
    throw new CodecKeyError(`codec keyring ${path}: the active key ${file.active} is not among its keys`);
  }
  return { path, activeId: file.active, keys };
}

async function readKeyringFile(path: string): Promise<KeyringFile> {
  await checkPermissions(path);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code) throw err;
    throw new CodecKeyError(`codec keyring ${path} is not valid JSON`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    // Only paths and rule messages: zod's issues would otherwise quote the offending value, i.e. key material.
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new CodecKeyError(`codec keyring ${path} is malformed: ${where}`);
  }
  return parsed.data;
}

/** Refuses a keyring that other users can read or write, or that belongs to someone else. */
export async function checkPermissions(path: string): Promise<void> {
  const st = await stat(path);
  if (!st.isFile()) throw new CodecKeyError(`codec keyring ${path} is not a regular file`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new CodecKeyError(`refusing codec keyring ${path}: owned by uid ${st.uid}, not by you (uid ${uid})`);
  }
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new CodecKeyError(
      `refusing codec keyring ${path}: mode ${mode} lets other users access the keys. If nobody else could have ` +
        `read it, run: chmod 600 ${path} — otherwise rotate the key (kubeadm2ha codec rotate-key) after fixing it.`,
    );
  }
}

function newKey(): KeyringFile['keys'][number] {
  const now = new Date();
  const day = now.toISOString().slice(0, 10).replaceAll('-', '');
  return {
    id: `k${day}-${randomBytes(4).toString('hex')}`,
    created: now.toISOString(),
    key: randomBytes(KEY_BYTES).toString('base64'),
  };
}

/** Creates `path` from content unless it exists; link() never replaces, so a concurrent creator's file survives. */
async function publishNew(path: string, content: KeyringFile): Promise<void> {
  const tmp = await writeTemp(path, content);
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** A fully written, fsynced 0600 file next to `path` (same filesystem, so rename/link are atomic). */
async function writeTemp(path: string, content: KeyringFile): Promise<string> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(path), `.codec-keyring.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(content, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return tmp;
}

// Two rotations at once would each drop the other's new key, and a worker may already have encrypted with it.
// An O_EXCL lock file serialises them; a crashed rotation leaves it behind and the message says what to do.
async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await (await open(lock, 'wx', 0o600)).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (Date.now() > deadline) {
        throw new CodecKeyError(`codec keyring ${path} is locked by ${lock}; if no rotation is running, delete it`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
