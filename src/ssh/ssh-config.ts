// A small reader for OpenSSH client config (ssh_config(5)): Host blocks and the few keywords we honour
// (HostName, User, Port, IdentityFile, ProxyJump). Everything else is ignored on purpose, in particular
// StrictHostKeyChecking and UserKnownHostsFile: host-key policy comes from the inventory only, so a permissive
// ~/.ssh/config cannot weaken it. `Match` blocks are not evaluated (their options are skipped) and `Include` is
// not followed.
import { homedir, userInfo } from 'node:os';
import { readFile } from 'node:fs/promises';
import { globMatch } from './known-hosts.js';

export interface SshConfigBlock {
  /** Host patterns; `null` for a Match block, which we never apply. */
  patterns: string[] | null;
  options: Array<[keyword: string, value: string]>;
}

export interface SshConfigResult {
  hostName?: string;
  user?: string;
  port?: number;
  /** Unexpanded; see expandPath. */
  identityFiles: string[];
  proxyJump?: string;
}

const honoured = new Set(['hostname', 'user', 'port', 'identityfile', 'proxyjump']);

export function parseSshConfig(text: string): SshConfigBlock[] {
  const blocks: SshConfigBlock[] = [{ patterns: ['*'], options: [] }]; // lines before the first Host apply to all
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    if (!m?.[1] || m[2] === undefined) continue;
    const keyword = m[1].toLowerCase();
    const args = splitArgs(m[2]);
    if (keyword === 'host') blocks.push({ patterns: args, options: [] });
    else if (keyword === 'match') blocks.push({ patterns: null, options: [] });
    else if (honoured.has(keyword) && args[0] !== undefined) blocks.at(-1)?.options.push([keyword, args[0]]);
  }
  return blocks;
}

/** Split on whitespace, honouring double quotes (`IdentityFile "~/my keys/id"`). */
function splitArgs(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

/** ssh_config Host matching: a negated pattern that matches excludes the block even if others match. */
export function hostPatternsMatch(patterns: readonly string[], host: string): boolean {
  let matched = false;
  for (const p of patterns) {
    const negated = p.startsWith('!');
    if (globMatch(negated ? p.slice(1) : p, host)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Options for `alias`, first value wins (as in OpenSSH); IdentityFile accumulates. */
export function resolveSshConfig(blocks: readonly SshConfigBlock[], alias: string): SshConfigResult {
  const result: SshConfigResult = { identityFiles: [] };
  for (const block of blocks) {
    if (!block.patterns || !hostPatternsMatch(block.patterns, alias)) continue;
    for (const [keyword, value] of block.options) {
      if (keyword === 'identityfile') result.identityFiles.push(value);
      else if (keyword === 'hostname') result.hostName ??= value;
      else if (keyword === 'user') result.user ??= value;
      else if (keyword === 'proxyjump') result.proxyJump ??= value;
      else if (keyword === 'port') {
        const port = Number(value);
        if (result.port === undefined && Number.isInteger(port) && port > 0 && port < 65536) result.port = port;
      }
    }
  }
  return result;
}

export interface PathTokens {
  /** %h: remote host name (after HostName) */
  host: string;
  /** %r: remote user */
  user: string;
  /** %p: remote port */
  port: number;
  /** %n: the name as given before HostName */
  alias?: string;
}

/** Expand `~` and the %-tokens OpenSSH allows in IdentityFile: %h %r %p %n %u (local user) %d (home) %%. */
export function expandPath(path: string, t: PathTokens, home = homedir()): string {
  const local = safeLocalUser();
  const expanded = path.replace(/%([hrpnud%])/g, (_, c: string) => {
    switch (c) {
      case 'h':
        return t.host;
      case 'r':
        return t.user;
      case 'p':
        return String(t.port);
      case 'n':
        return t.alias ?? t.host;
      case 'u':
        return local;
      case 'd':
        return home;
      default:
        return '%';
    }
  });
  if (expanded === '~') return home;
  return expanded.startsWith('~/') ? home + expanded.slice(1) : expanded;
}

function safeLocalUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? '';
  }
}

export async function loadSshConfig(file: string): Promise<SshConfigBlock[]> {
  try {
    return parseSshConfig(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** `[user@]host[:port]` (ProxyJump / bastion). Only one hop: a comma list is refused by the caller. */
export function parseJumpSpec(spec: string): { user?: string; host: string; port?: number } | undefined {
  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s,]+)(?::(\d+))?$/.exec(spec.trim());
  if (!m?.[2]) return undefined;
  const out: { user?: string; host: string; port?: number } = { host: m[2].replace(/^\[|\]$/g, '') };
  if (m[1]) out.user = m[1];
  if (m[3]) out.port = Number(m[3]);
  return out;
}
