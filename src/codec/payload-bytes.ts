// A whole Payload (metadata and data) as one byte string: the plaintext the encryption codec seals. A small
// length-prefixed format of our own instead of the protobuf encoding keeps @temporalio/proto (not a direct
// dependency) out, and costs a few bytes per metadata entry, not the third that base64-in-JSON would.
//   u8 version (1) ‖ u32 entry count ‖ entries (u32 key length ‖ key ‖ u32 value length ‖ value) ‖ data
// (`externalPayloads` is not carried: kubeadm2ha does not configure external payload storage.)
import type { Payload } from '@temporalio/common';
import { CodecKeyError } from './keyring.js';

const VERSION = 1;

export function serializePayload(p: Payload): Buffer {
  const parts: Buffer[] = [];
  const entries = Object.entries(p.metadata ?? {});
  const head = Buffer.alloc(5);
  head.writeUInt8(VERSION, 0);
  head.writeUInt32BE(entries.length, 1);
  parts.push(head);
  for (const [k, v] of entries) {
    const key = Buffer.from(k, 'utf8');
    parts.push(u32(key.length), key, u32(v.length), Buffer.from(v));
  }
  if (p.data) parts.push(Buffer.from(p.data));
  return Buffer.concat(parts);
}

export function deserializePayload(buf: Buffer): Payload {
  let at = 0;
  const need = (n: number): void => {
    if (at + n > buf.length) throw new CodecKeyError('decrypted payload is malformed');
  };
  need(5);
  if (buf.readUInt8(0) !== VERSION) throw new CodecKeyError(`decrypted payload has unknown format ${buf.readUInt8(0)}`);
  const count = buf.readUInt32BE(1);
  at = 5;
  const metadata: Record<string, Uint8Array> = {};
  for (let i = 0; i < count; i++) {
    need(4);
    const kl = buf.readUInt32BE(at);
    at += 4;
    need(kl);
    const key = buf.subarray(at, at + kl).toString('utf8');
    at += kl;
    need(4);
    const vl = buf.readUInt32BE(at);
    at += 4;
    need(vl);
    metadata[key] = Uint8Array.from(buf.subarray(at, at + vl));
    at += vl;
  }
  return { metadata, data: Uint8Array.from(buf.subarray(at)) };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}
