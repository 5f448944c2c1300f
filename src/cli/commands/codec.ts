// `kubeadm2ha codec serve|rotate-key|keys`: the payload encryption that keeps secrets out of Temporal history.
// `serve` runs the codec server the Web UI (and `temporal --codec-endpoint`) uses to show decrypted payloads;
// `rotate-key` adds a new active key (old ones keep decrypting); `keys` lists key ids — never key material.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import {
  CODEC_PATH,
  DEFAULT_CODEC_PORT,
  DEFAULT_UI_ORIGINS,
  normalizeOrigin,
  startCodecServer,
} from '../../codec/codec-server.js';
import { EncryptionCodec } from '../../codec/encryption-codec.js';
import { FileKeySource } from '../../codec/file-key-source.js';
import { keyringPath, loadKeyring, rotateKey } from '../../codec/keyring.js';
import { LOGIN_TTL_MS, loadUiSecret, loginLink } from '../../codec/ui-session.js';
import { InvalidInputError } from '../../errors.js';

interface ServeFlags {
  port: number;
  uiOrigin?: string[];
  maxBody: number;
  quiet?: boolean;
}

export function register(program: Command): void {
  const codec = program
    .command('codec')
    .description(
      'payload encryption: codec server for the Web UI, key rotation (keyring: $KUBEADM2HA_CODEC_KEYRING or ~/.config/kubeadm2ha/codec-keyring.json)',
    );

  codec
    .command('serve')
    .description('serve the codec (login + POST /_kubeadm2ha/codec/decode) on 127.0.0.1 for a Temporal Web UI')
    .option('--port <port>', 'port on 127.0.0.1', parsePort, DEFAULT_CODEC_PORT)
    .option(
      '--ui-origin <url>',
      `origin the Web UI is served from; repeatable (default ${DEFAULT_UI_ORIGINS.join(' and ')})`,
      collectOrigin,
    )
    .option('--max-body <bytes>', 'largest request body accepted', parseSize, 4 * 1024 * 1024)
    .option('--quiet', 'no per-request log lines')
    .addHelpText(
      'after',
      `
The local dev server that kubeadm2ha starts needs none of this: its Web UI decodes out of the box (the codec is
served on the UI's own origin; open the link \`kubeadm2ha server ui-link\` prints). This command is for another
Temporal UI on this machine. The browser POSTs encrypted payloads here and shows the answer; keys never leave this
machine. Only a browser that opened the one-time login link this command prints can decode (a session cookie,
HttpOnly, SameSite=Strict); other local users get 401. The UI must send that cookie along: set its codec endpoint
to http://127.0.0.1:<port>${CODEC_PATH} with "include credentials" on (Temporal UI server: codec.endpoint and
codec.includeCredentials: true), and be served from 127.0.0.1 too (a cookie of 127.0.0.1 is not sent from localhost).`,
    )
    .action(async (flags: ServeFlags) => {
      const path = keyringPath();
      // Fail now, not on the first request, when there is no usable keyring.
      const ring = await loadKeyring(path);
      const secret = await loadUiSecret();
      const uiOrigins = flags.uiOrigin ?? DEFAULT_UI_ORIGINS;
      const server = await startCodecServer({
        codec: new EncryptionCodec(new FileKeySource(path)),
        secret,
        port: flags.port,
        uiOrigins,
        maxBodyBytes: flags.maxBody,
        log: flags.quiet ? undefined : (line) => console.error(`codec: ${line}`),
      });
      console.log(
        `Codec endpoint: ${server.endpoint}  (keyring ${path}, ${ring.keys.size} key(s), active ${ring.activeId})`,
      );
      console.log(`Allowed Web UI origins: ${uiOrigins.join(', ')} (their codec setting must include credentials)`);
      console.log(`Log this browser in (one use, valid ${LOGIN_TTL_MS / 60_000} min):`);
      console.log(`  ${loginLink(server.url, secret)}`);
      console.log('Ctrl-C stops it.');
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });

  codec
    .command('rotate-key')
    .description('add a new active key; payloads encrypted with older keys still decrypt')
    .action(async () => {
      const path = keyringPath();
      if (!existsSync(path)) {
        // Nothing to rotate yet: the first key is as new as a rotated one.
        const ring = await loadKeyring(path, { create: true });
        console.log(`Created ${path} with active key ${ring.activeId}`);
        return;
      }
      const r = await rotateKey(path);
      console.log(`New active key ${r.id} (was ${r.previous}); ${r.keyCount} key(s) in ${path}`);
      console.log('Copy the keyring to every machine that runs a kubeadm2ha worker or CLI for this namespace.');
    });

  codec
    .command('keys')
    .description('list key ids in the keyring (never the keys themselves)')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const path = keyringPath();
      const ring = await loadKeyring(path);
      const keys = [...ring.keys.values()].map((k) => ({
        id: k.id,
        created: k.created,
        active: k.id === ring.activeId,
      }));
      if (flags.json) return console.log(JSON.stringify({ path, keys }, null, 2));
      console.log(`Keyring: ${path}`);
      for (const k of keys) console.log(`${k.active ? '*' : ' '} ${k.id}  created ${k.created}`);
    });
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidInputError(`invalid port: ${v}`);
  return n;
}

function parseSize(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1024) throw new InvalidInputError(`--max-body: expected bytes >= 1024, got ${v}`);
  return n;
}

function collectOrigin(v: string, prev: string[] | undefined): string[] {
  try {
    return [...(prev ?? []), normalizeOrigin(v)];
  } catch (err) {
    throw new InvalidInputError(`--ui-origin: ${(err as Error).message}`);
  }
}
