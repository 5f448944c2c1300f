import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CIPHER, ENCODING, EncryptionCodec } from '../../../src/codec/encryption-codec.js';
import { FileKeySource } from '../../../src/codec/file-key-source.js';
import { loadKeyring, rotateKey } from '../../../src/codec/keyring.js';
import { deserializePayload, serializePayload } from '../../../src/codec/payload-bytes.js';
import { rejectionOf, tempKeyringDir } from './helpers.js';

const TOKEN = 'abcdef.0123456789abcdef';
const secretValue = {
  token: TOKEN,
  pem: '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIK\n-----END PRIVATE KEY-----',
};

const meta = (p: Payload, k: string): string | undefined =>
  p.metadata?.[k] ? Buffer.from(p.metadata[k]).toString('utf8') : undefined;
const contains = (p: Payload, s: string): boolean =>
  Buffer.from(p.data ?? []).includes(s) || Object.values(p.metadata ?? {}).some((v) => Buffer.from(v).includes(s));

let t: Awaited<ReturnType<typeof tempKeyringDir>>;
let codec: EncryptionCodec;
beforeEach(async () => {
  t = await tempKeyringDir();
  codec = new EncryptionCodec(new FileKeySource(t.path));
});
afterEach(async () => {
  await t.cleanup();
});

describe('EncryptionCodec', () => {
  it('round-trips payloads; the encoded form holds no plaintext and names encoding, key id and cipher', async () => {
    const plain = [defaultPayloadConverter.toPayload(secretValue), defaultPayloadConverter.toPayload(undefined)];
    const encoded = await codec.encode(plain);
    const ring = await loadKeyring(t.path); // created by the first encode
    expect(encoded).toHaveLength(2);
    for (const p of encoded) {
      expect(meta(p, 'encoding')).toBe(ENCODING);
      expect(meta(p, 'encryption-key-id')).toBe(ring.activeId);
      expect(meta(p, 'encryption-cipher')).toBe(CIPHER);
      expect(contains(p, TOKEN)).toBe(false);
      expect(contains(p, 'json/plain')).toBe(false); // the inner encoding is sealed too
    }
    const decoded = await codec.decode(encoded);
    expect(defaultPayloadConverter.fromPayload(decoded[0]!)).toEqual(secretValue);
    expect(defaultPayloadConverter.fromPayload(decoded[1]!)).toBeUndefined();
    expect(decoded).toEqual(plain.map((p) => ({ metadata: p.metadata, data: p.data ?? new Uint8Array() })));
  });

  it('encrypts the same value differently each time (fresh IV)', async () => {
    const p = defaultPayloadConverter.toPayload(secretValue);
    const [a] = await codec.encode([p]);
    const [b] = await codec.encode([p]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('passes unencrypted payloads through decode (old histories, KUBEADM2HA_CODEC=off)', async () => {
    const p = defaultPayloadConverter.toPayload({ hello: 'world' });
    expect(await codec.decode([p])).toEqual([p]);
  });

  it('a tampered ciphertext, IV or tag fails authentication', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(secretValue)]);
    const len = enc!.data!.length;
    for (const at of [0, 20, len - 1]) {
      const data = Uint8Array.from(enc!.data!);
      data[at]! ^= 0x01;
      await expect(codec.decode([{ ...enc!, data }])).rejects.toThrow(/failed authentication/);
    }
    await expect(codec.decode([{ ...enc!, data: enc!.data!.subarray(0, 10) }])).rejects.toThrow(/truncated/);
  });

  it('relabelling a payload with another known key id fails authentication (key id is bound)', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(secretValue)]);
    const { id } = await rotateKey(t.path);
    const relabelled = { ...enc!, metadata: { ...enc!.metadata, 'encryption-key-id': Buffer.from(id) } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/failed authentication with key/);
  });

  it('an unknown key id gives a clear error naming the id and the keyring', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(secretValue)]);
    const other = await tempKeyringDir();
    try {
      await loadKeyring(other.path, { create: true });
      const foreign = new EncryptionCodec(new FileKeySource(other.path));
      const id = meta(enc!, 'encryption-key-id')!;
      const err = await rejectionOf(foreign.decode([enc!]));
      expect(err.message).toContain(`key id ${id}, which is not in the codec keyring ${other.path}`);
    } finally {
      await other.cleanup();
    }
  });

  it('after rotation the running codec encrypts with the new key and still decrypts old payloads', async () => {
    const value = defaultPayloadConverter.toPayload(secretValue);
    const [old] = await codec.encode([value]);
    const oldId = meta(old!, 'encryption-key-id');
    const { id: newId } = await rotateKey(t.path);
    const [fresh] = await codec.encode([value]);
    expect(meta(fresh!, 'encryption-key-id')).toBe(newId);
    expect(newId).not.toBe(oldId);
    // Same process, and a process that only ever saw the rotated file.
    for (const c of [codec, new EncryptionCodec(new FileKeySource(t.path))]) {
      const [a, b] = await c.decode([old!, fresh!]);
      expect(defaultPayloadConverter.fromPayload(a!)).toEqual(secretValue);
      expect(defaultPayloadConverter.fromPayload(b!)).toEqual(secretValue);
    }
  });

  it('refuses to encrypt or decrypt with a keyring other users can read', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(1)]);
    const { chmod } = await import('node:fs/promises');
    await chmod(t.path, 0o640);
    await expect(codec.encode([defaultPayloadConverter.toPayload(2)])).rejects.toThrow(/mode 0640/);
    await expect(codec.decode([enc!])).rejects.toThrow(/mode 0640/);
  });
});

describe('payload bytes', () => {
  it('round-trips metadata and data exactly', () => {
    const p: Payload = {
      metadata: { encoding: Buffer.from('json/plain'), ünï: Uint8Array.from([0, 255]), empty: new Uint8Array() },
      data: Uint8Array.from([1, 2, 3, 0]),
    };
    const back = deserializePayload(serializePayload(p));
    expect(back).toEqual({
      metadata: {
        encoding: Uint8Array.from(Buffer.from('json/plain')),
        ünï: Uint8Array.from([0, 255]),
        empty: new Uint8Array(),
      },
      data: Uint8Array.from([1, 2, 3, 0]),
    });
  });

  it('rejects truncated input', () => {
    const buf = serializePayload({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('x') });
    expect(() => deserializePayload(buf.subarray(0, 8))).toThrow(/malformed/);
  });
});
