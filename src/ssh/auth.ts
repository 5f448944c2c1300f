// Builds the list of ssh2 authentication attempts for one endpoint: key files first (they are what the inventory
// asked for), then the agent. Keys are parsed here, before connecting, so a bad key is reported as such and not as
// a vague "all authentication methods failed".
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { homedir } from 'node:os';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, ParsedKey } from 'ssh2';
import { AuthFailedError } from '../errors.js';

export interface AuthSpec {
  user: string;
  /** Key files the user named (inventory or ssh config). A missing or unusable one is an error. */
  identityFiles: string[];
  /** Whether identityFiles were named by the user; when false, the default ~/.ssh keys are tried if present. */
  explicit: boolean;
  /** Agent socket path, if the agent should be used. */
  agent?: string;
}

export const defaultIdentityFiles = (home = homedir()): string[] =>
  ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(home, '.ssh', f));

type KeyLoad = { key: ParsedKey } | { problem: string };

/** Reads and parses key files once per pool; keys never leave this process (no Temporal payloads, no logs). */
export class KeyCache {
  private readonly keys = new Map<string, Promise<KeyLoad>>();

  load(path: string): Promise<KeyLoad> {
    let p = this.keys.get(path);
    if (!p) {
      p = loadKey(path);
      this.keys.set(path, p);
    }
    return p;
  }
}

async function loadKey(path: string): Promise<KeyLoad> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    return { problem: `cannot read identity file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  const parsed = ssh2.utils.parseKey(data);
  if (parsed instanceof Error) {
    if (/encrypted/i.test(parsed.message)) {
      return {
        problem:
          `identity file ${path} is encrypted; passphrase-protected keys are not supported yet. ` +
          `Load it into ssh-agent (useAgent: true) or use an unencrypted deploy key`,
      };
    }
    return { problem: `identity file ${path} is not a private key ssh2 can read: ${parsed.message}` };
  }
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
  if (!key?.isPrivateKey()) return { problem: `identity file ${path} holds no private key` };
  return { key };
}

export async function authMethods(
  host: string,
  spec: AuthSpec,
  keys: KeyCache,
  home?: string,
): Promise<AnyAuthMethod[]> {
  const methods: AnyAuthMethod[] = [];
  const problems: string[] = [];
  const files = spec.explicit ? spec.identityFiles : [...spec.identityFiles, ...defaultIdentityFiles(home)];
  for (const file of files) {
    const loaded = await keys.load(file);
    if ('key' in loaded) methods.push({ type: 'publickey', username: spec.user, key: loaded.key });
    // A named key that cannot be used is a configuration error: say so instead of silently trying others.
    else if (spec.explicit) throw new AuthFailedError(host, loaded.problem);
    else if (!/ENOENT/.test(loaded.problem)) problems.push(loaded.problem);
  }
  if (spec.agent) methods.push({ type: 'agent', username: spec.user, agent: spec.agent });
  if (methods.length === 0) {
    throw new AuthFailedError(
      host,
      `no usable credentials (no identityFile, no ssh-agent, no default key in ~/.ssh)${problems.length ? `: ${problems.join('; ')}` : ''}`,
    );
  }
  return methods;
}
