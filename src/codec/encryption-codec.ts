// PayloadCodec that encrypts every payload (workflow and activity arguments and results, heartbeat details, query
// and update payloads, and — with the failure converter — error messages and stack traces) with AES-256-GCM before
// it leaves the process, so Temporal's database and Web UI only ever see ciphertext.
//
// Wire format of an encrypted payload:
//   metadata: encoding = "binary/encrypted", encryption-key-id = <id>, encryption-cipher = "AES-256-GCM/v1"
//   data:     12-byte IV ‖ ciphertext ‖ 16-byte GCM tag
// The plaintext is the whole original payload (its metadata too: the encoding of a value can itself say something).
// The key id is also bound as associated data, so relabelling a payload with another key id fails authentication.
// Payloads that are not encrypted pass through decode unchanged for readers (the client, the codec server), so
// histories written before encryption was on stay readable; the worker asks for `unencrypted: 'wrap'` instead
// (./wrap-unencrypted.ts), so that nothing without our encryption is ever taken as workflow input.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { CodecKeyError, type CodecKey } from './keyring.js';
import { deserializePayload, serializePayload } from './payload-bytes.js';
import { wrapUnencrypted } from './wrap-unencrypted.js';

export const ENCODING = 'binary/encrypted';
export const METADATA_ENCODING = 'encoding';
export const METADATA_KEY_ID = 'encryption-key-id';
export const METADATA_CIPHER = 'encryption-cipher';
export const CIPHER = 'AES-256-GCM/v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Where the codec gets keys: the active one for encrypting, any known one by id for decrypting. */
export interface KeySource {
  active(): Promise<CodecKey>;
  /** Undefined when the id is unknown. */
  byId(id: string): Promise<CodecKey | undefined>;
  /** For error messages: where keys come from (a path). */
  describe(): string;
}

export interface EncryptionCodecOptions {
  /** What decode does with a payload that is not encrypted: hand it on as it is (readers), or wrap it (worker). */
  unencrypted?: 'pass' | 'wrap';
}

export class EncryptionCodec implements PayloadCodec {
  constructor(
    private readonly keys: KeySource,
    private readonly opts: EncryptionCodecOptions = {},
  ) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    if (payloads.length === 0) return payloads;
    const key = await this.keys.active();
    return payloads.map((p) => encrypt(p, key));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (p) => {
        if (text(p.metadata?.[METADATA_ENCODING]) !== ENCODING)
          return this.opts.unencrypted === 'wrap' ? wrapUnencrypted(p) : p;
        const id = text(p.metadata?.[METADATA_KEY_ID]);
        if (!id) throw new CodecKeyError('encrypted payload has no encryption-key-id');
        const cipher = text(p.metadata?.[METADATA_CIPHER]);
        if (cipher !== undefined && cipher !== CIPHER) {
          throw new CodecKeyError(`encrypted payload uses cipher ${cipher}; this kubeadm2ha knows only ${CIPHER}`);
        }
        const key = await this.keys.byId(id);
        if (!key) {
          throw new CodecKeyError(
            `payload was encrypted with key id ${id}, which is not in the codec keyring ${this.keys.describe()}. ` +
              `Copy the keyring of the machine that wrote it (it keeps all old keys) or point KUBEADM2HA_CODEC_KEYRING at it.`,
          );
        }
        return decrypt(p, key);
      }),
    );
  }
}

export function encrypt(payload: Payload, key: CodecKey): Payload {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(key.id));
  const body = Buffer.concat([cipher.update(serializePayload(payload)), cipher.final()]);
  return {
    metadata: {
      [METADATA_ENCODING]: bytes(ENCODING),
      [METADATA_KEY_ID]: bytes(key.id),
      [METADATA_CIPHER]: bytes(CIPHER),
    },
    data: Buffer.concat([iv, body, cipher.getAuthTag()]),
  };
}

export function decrypt(payload: Payload, key: CodecKey): Payload {
  const data = payload.data ?? new Uint8Array();
  if (data.length < IV_BYTES + TAG_BYTES) throw new CodecKeyError('encrypted payload is truncated');
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const decipher = createDecipheriv('aes-256-gcm', key.key, buf.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(associatedData(key.id));
  decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(buf.subarray(IV_BYTES, buf.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new CodecKeyError(
      `encrypted payload failed authentication with key ${key.id}: it was altered, or the keyring holds a different key under that id`,
    );
  }
  return deserializePayload(plain);
}

function associatedData(keyId: string): Buffer {
  return Buffer.from(`kubeadm2ha:${CIPHER}:${keyId}`, 'utf8');
}

function bytes(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}

function text(b: Uint8Array | null | undefined): string | undefined {
  return b ? Buffer.from(b).toString('utf8') : undefined;
}
