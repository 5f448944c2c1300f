// Keys for the codec, read from the keyring file and re-read when the file changes: a long-running worker picks up
// a key added by `kubeadm2ha codec rotate-key` (and encrypts with it) without a restart. The first encryption
// creates the keyring when there is none; decryption never creates one (it could not hold the needed key).
import { stat } from 'node:fs/promises';
import type { KeySource } from './encryption-codec.js';
import { loadKeyring, type CodecKey, type Keyring } from './keyring.js';

export class FileKeySource implements KeySource {
  private cached?: { keyring: Keyring; stamp: string };
  private loading?: Promise<Keyring>;
  private statting?: Promise<string | undefined>;

  constructor(readonly path: string) {}

  async active(): Promise<CodecKey> {
    const ring = await this.keyring(true);
    return ring.keys.get(ring.activeId)!;
  }

  async byId(id: string): Promise<CodecKey | undefined> {
    const ring = await this.keyring(false);
    return ring.keys.get(id);
  }

  describe(): string {
    return this.path;
  }

  /** The keyring as the file is now; one stat per call, a full read only when the file changed. */
  private async keyring(create: boolean): Promise<Keyring> {
    // A decode of N payloads asks N times at once: they share one stat.
    this.statting ??= fileStamp(this.path).finally(() => (this.statting = undefined));
    const before = await this.statting;
    if (before === undefined) {
      // No file (yet): nothing to share or cache; loadKeyring creates it or explains what is missing.
      const keyring = await loadKeyring(this.path, { create });
      const now = await fileStamp(this.path);
      if (now !== undefined) this.cached = { keyring, stamp: now };
      return keyring;
    }
    if (this.cached?.stamp === before) return this.cached.keyring;
    // Concurrent callers share one read (a workflow activation decodes many payloads at once).
    this.loading ??= loadKeyring(this.path).finally(() => (this.loading = undefined));
    const keyring = await this.loading;
    // Stamp from before the read: if the file changed meanwhile, the next call sees a new stamp and re-reads.
    this.cached = { keyring, stamp: before };
    return keyring;
  }
}

async function fileStamp(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}:${st.mode}`;
  } catch {
    return undefined;
  }
}
