// Entry of the Web UI front process (spawned by ui-front-process.ts): `ui-front --port N --inner-port M
// [--codec-endpoint URL]`. Its own small entry, not the CLI's, so that it starts in a third of the time (it loads the
// codec and the proxy, not every command). The keyring and the Web UI secret are found from the environment, as
// every command finds them.
import { parseArgs } from 'node:util';
import { EncryptionCodec } from '../codec/encryption-codec.js';
import { FileKeySource } from '../codec/file-key-source.js';
import { keyringPath } from '../codec/keyring.js';
import { loadUiSecret } from '../codec/ui-session.js';
import { startUiFront } from './ui-front.js';

const { values } = parseArgs({
  args: process.argv.slice(3), // after the 'ui-front' marker that identifies this process in ps
  options: {
    port: { type: 'string' },
    'inner-port': { type: 'string' },
    'codec-endpoint': { type: 'string' },
  },
});
const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} ${line}\n`);
const front = await startUiFront({
  port: Number(values.port),
  innerPort: Number(values['inner-port']),
  codec: new EncryptionCodec(new FileKeySource(keyringPath())),
  secret: await loadUiSecret(),
  ...(values['codec-endpoint'] ? { externalCodecEndpoint: values['codec-endpoint'] } : {}),
  log,
});
log(`Web UI front ${front.url} -> 127.0.0.1:${values['inner-port']}`);
await new Promise<void>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
await front.close();
