// The worker's codec (unencrypted: 'wrap') marks every payload that did not come encrypted with our keyring, so
// that workflow input validation can refuse it; readers (client, codec server) keep passing plaintext through.
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EncryptionCodec } from '../../../src/codec/encryption-codec.js';
import { FileKeySource } from '../../../src/codec/file-key-source.js';
import { isUnencrypted, UNENCRYPTED } from '../../../src/codec/unencrypted.js';
import { tempKeyringDir } from './helpers.js';

let t: Awaited<ReturnType<typeof tempKeyringDir>>;
let worker: EncryptionCodec;
let reader: EncryptionCodec;
beforeEach(async () => {
  t = await tempKeyringDir();
  const keys = new FileKeySource(t.path);
  worker = new EncryptionCodec(keys, { unencrypted: 'wrap' });
  reader = new EncryptionCodec(keys);
});
afterEach(async () => {
  await t.cleanup();
});

const decodeOne = async (codec: EncryptionCodec, p: Payload): Promise<unknown> => {
  const [out] = await codec.decode([p]);
  return defaultPayloadConverter.fromPayload(out!);
};
const inventoryLike = { inventory: { cluster: { name: 'evil' }, hosts: [{ name: 'x', address: '10.9.9.9' }] } };

describe('worker codec: payloads without our encryption', () => {
  it('wraps a plaintext JSON payload as { kubeadm2ha/unencrypted: value }', async () => {
    const v = await decodeOne(worker, defaultPayloadConverter.toPayload(inventoryLike));
    expect(v).toEqual({ [UNENCRYPTED]: inventoryLike });
    expect(isUnencrypted(v)).toBe(true);
  });

  it('still decrypts what was encrypted with the keyring, unwrapped', async () => {
    const [enc] = await worker.encode([defaultPayloadConverter.toPayload(inventoryLike)]);
    expect(await decodeOne(worker, enc!)).toEqual(inventoryLike);
  });

  it('wraps binary/null, raw bytes and JSON that does not parse as null, never throwing', async () => {
    const nothing = defaultPayloadConverter.toPayload(undefined);
    const bytes = defaultPayloadConverter.toPayload(new Uint8Array([1, 2, 3]));
    const broken: Payload = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{"a":1,') };
    // A splice attempt: data that would add keys if the wrapper were built by concatenation.
    const splice: Payload = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('1,"x":2') };
    const protobuf: Payload = { metadata: { encoding: Buffer.from('binary/protobuf') }, data: Buffer.from([8, 1]) };
    for (const p of [nothing, bytes, broken, splice, protobuf]) {
      expect(await decodeOne(worker, p)).toEqual({ [UNENCRYPTED]: null });
    }
  });

  it('readers keep passing plaintext through unchanged', async () => {
    expect(await decodeOne(reader, defaultPayloadConverter.toPayload(inventoryLike))).toEqual(inventoryLike);
  });
});
