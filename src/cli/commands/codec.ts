// `kubeadm2ha codec serve|rotate-key|keys`: the payload encryption that keeps secrets out of Temporal history.
// `serve` runs the codec server the Web UI (and `temporal --codec-endpoint`) uses to show decrypted payloads;
// `rotate-key` adds a new active key (old ones keep decrypting); `keys` lists key ids — never key material.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { startCodecServer, DEFAULT_CODEC_PORT, DEFAULT_UI_ORIGINS, normalizeOrigin } from '../../codec/codec-server.js';
import { EncryptionCodec } from '../../codec/encryption-codec.js';
import { FileKeySource } from '../../codec/file-key-source.js';
import { keyringPath, loadKeyring, rotateKey } from '../../codec/keyring.js';
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
    .description('serve /encode and /decode on 127.0.0.1 so the Temporal Web UI can show decrypted payloads')
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
The Web UI decodes in the browser: it POSTs encrypted payloads here and shows the answer; keys never leave this
machine. To point the local dev server's UI at it (the UI reads the endpoint when the server starts):
  kubeadm2ha codec serve &
  kubeadm2ha server stop && kubeadm2ha server start --ui-codec-endpoint http://127.0.0.1:${DEFAULT_CODEC_PORT}
(that is 'temporal server start-dev --ui-codec-endpoint <url>'; export KUBEADM2HA_UI_CODEC_ENDPOINT=<url> to have
every local server kubeadm2ha starts on demand use it; another Temporal UI: env TEMPORAL_CODEC_ENDPOINT,
or the codec server setting in the UI itself). A UI on another port or host name: add --ui-origin <its origin>.
The Temporal CLI: temporal workflow show -w <id> --codec-endpoint http://127.0.0.1:${DEFAULT_CODEC_PORT}`,
    )
    .action(async (flags: ServeFlags) => {
      const path = keyringPath();
      // Fail now, not on the first request, when there is no usable keyring.
      const ring = await loadKeyring(path);
      const server = await startCodecServer({
        codec: new EncryptionCodec(new FileKeySource(path)),
        port: flags.port,
        uiOrigins: flags.uiOrigin ?? DEFAULT_UI_ORIGINS,
        maxBodyBytes: flags.maxBody,
        log: flags.quiet ? undefined : (line) => console.error(`codec: ${line}`),
      });
      console.log(`Codec server: ${server.url}  (keyring ${path}, ${ring.keys.size} key(s), active ${ring.activeId})`);
      console.log(`Allowed Web UI origins: ${(flags.uiOrigin ?? DEFAULT_UI_ORIGINS).join(', ')}`);
      console.log('Point the Web UI at it, either:');
      console.log(`  - kubeadm2ha server stop && kubeadm2ha server start --ui-codec-endpoint ${server.url}`);
      console.log(`    (local dev server: passes --ui-codec-endpoint to 'temporal server start-dev')`);
      console.log(`  - or, for any Temporal UI: its codec server setting (stored in your browser) = ${server.url}`);
      console.log(`The CLI can use it too: temporal workflow show -w <id> --codec-endpoint ${server.url}`);
      console.log('Anyone who can reach 127.0.0.1 on this machine can decrypt while it runs. Ctrl-C stops it.');
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
