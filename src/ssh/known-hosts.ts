// OpenSSH known_hosts: parse, match, check a presented key, record a new one.
// Format (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): `[@marker] patterns keytype base64-key [comment]`, where patterns is
// a comma list of host patterns (`*`, `?`, `!negation`, `[host]:port` for non-22 ports) or one hashed entry
// `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`. We compare the whole key blob, which embeds the key type.
import { createHash, createHmac } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InvalidInputError } from '../errors.js';
import { isHostName } from './host-names.js';

export interface KnownHostEntry {
  /** `revoked` keys are refused for matching hosts; `cert-authority` lines are skipped (no host certificates). */
  marker?: 'revoked' | 'cert-authority';
  patterns?: string[];
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  /** The key blob in SSH wire format: what ssh2 hands to `hostVerifier`. */
  key: Buffer;
  line: number;
}

/** Parse known_hosts text. Malformed lines are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'];
    if (fields[0].startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return; // unknown marker: ignore the line rather than guess
    }
    const [hosts, keyType, b64] = fields;
    if (hosts === undefined || keyType === undefined || b64 === undefined) return;
    const key = Buffer.from(b64, 'base64');
    if (key.length === 0 || blobKeyType(key) !== keyType) return;
    const entry: KnownHostEntry = { keyType, key, line: index + 1 };
    if (marker) entry.marker = marker;
    if (hosts.startsWith('|1|')) {
      const [, , salt, hash] = hosts.split('|');
      if (!salt || !hash) return;
      entry.hashed = { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
    } else {
      entry.patterns = hosts.split(',').filter((p) => p !== '');
    }
    entries.push(entry);
  });
  return entries;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

/** Does `entry` apply to `name` (from knownHostName)? Negated patterns win over positive ones. */
export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.hashed) {
    const mac = createHmac('sha1', entry.hashed.salt).update(name).digest();
    return mac.equals(entry.hashed.hash);
  }
  let matched = false;
  for (const pattern of entry.patterns ?? []) {
    const negated = pattern.startsWith('!');
    if (globMatch(negated ? pattern.slice(1) : pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** OpenSSH-style wildcard match (`*`, `?`), case-insensitive like host names. */
export function globMatch(pattern: string, text: string): boolean {
  const re = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${re}$`).test(text.toLowerCase());
}

/** The key type written inside a wire-format key blob (uint32 length + name). */
export function blobKeyType(key: Buffer): string | undefined {
  if (key.length < 4) return undefined;
  const len = key.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > key.length) return undefined;
  return key.subarray(4, 4 + len).toString('latin1');
}

/** `SHA256:<base64 without padding>`, exactly as `ssh-keygen -lf` and OpenSSH's prompts print it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** A key known_hosts holds for a host, as an error message shows it. */
export interface ExpectedKey {
  keyType: string;
  fingerprint: string;
  line: number;
}

export type HostKeyVerdict =
  | { kind: 'known' }
  | { kind: 'unknown' }
  | { kind: 'changed'; expected: ExpectedKey[] }
  | { kind: 'revoked'; line: number };

/** Check `key` for a host known under any of `names` (already in knownHostName form). */
export function checkHostKey(
  entries: readonly KnownHostEntry[],
  names: readonly string[],
  key: Buffer,
): HostKeyVerdict {
  const matching = entries.filter((e) => names.some((n) => entryMatches(e, n)));
  const revoked = matching.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { kind: 'revoked', line: revoked.line };
  const plain = matching.filter((e) => e.marker === undefined);
  if (plain.some((e) => e.key.equals(key))) return { kind: 'known' };
  // Any other key recorded for this host means the host no longer shows the key we trust. A different key *type*
  // counts too: we ask for the known types first (preferredAlgorithms), so a host offering only another type has
  // lost the key we know. OpenSSH treats this as new; refusing is the safer reading for unattended runs.
  if (plain.length > 0) {
    return {
      kind: 'changed',
      expected: plain.map((e) => ({ keyType: e.keyType, fingerprint: fingerprint(e.key), line: e.line })),
    };
  }
  return { kind: 'unknown' };
}

/** `ssh-ed25519 SHA256:… (/root/.ssh/known_hosts:3)`: what we trust and where it is written, so it can be checked. */
export function describeExpected(file: string, expected: readonly ExpectedKey[]): string {
  return expected.map((e) => `${e.keyType} ${e.fingerprint} (${file}:${e.line})`).join(', ');
}

/** `ssh-ed25519 SHA256:…` for a presented key blob. */
export function describeKey(key: Buffer): string {
  return `${blobKeyType(key) ?? 'unknown-type'} ${fingerprint(key)}`;
}

/** Host-key algorithms to ask for first, so the host shows a key we already know. */
export function preferredAlgorithms(entries: readonly KnownHostEntry[], names: readonly string[]): string[] {
  const types = new Set(
    entries.filter((e) => e.marker === undefined && names.some((n) => entryMatches(e, n))).map((e) => e.keyType),
  );
  return [...types].flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
}

/** One known_hosts line for `host:port`, in the form OpenSSH writes (`[host]:port` off port 22). */
export function formatKnownHost(host: string, port: number, key: Buffer, comment?: string): string {
  // The host field of the line we write must be one host, never a pattern or a line break (src/ssh/host-names.ts).
  if (!isHostName(host) || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new InvalidInputError(`refusing to record a host key for ${JSON.stringify(host)}:${port}: not a host name`);
  if (comment !== undefined && [...comment].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    throw new InvalidInputError(`refusing to record a host key with a control character in its comment`);
  const type = blobKeyType(key);
  if (!type) throw new Error('not an SSH public key blob');
  return `${knownHostName(host, port)} ${type} ${key.toString('base64')}${comment ? ` ${comment}` : ''}\n`;
}

/** Read known_hosts; a missing file is an empty one (strict mode then refuses every host, which is the point). */
export async function loadKnownHosts(file: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Append one line to known_hosts. One write(2) on an O_APPEND descriptor is atomic with respect to other appenders
 * (OpenSSH's own client appends the same way), so concurrent recorders, even in other processes, never interleave
 * or lose lines; a rewrite-and-rename would drop a line another process appended meanwhile.
 */
export async function appendKnownHost(file: string, line: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const handle = await open(file, 'a+', 0o600);
  try {
    const { size } = await handle.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n'; // a file edited by hand may lack its final newline
    }
    const data = Buffer.from(prefix + line);
    const { bytesWritten } = await handle.write(data);
    if (bytesWritten !== data.length) throw new Error(`short write to ${file}`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
