// The single place client and worker get their DataConverter from, so both always agree on how payloads are
// encoded: AES-256-GCM encryption of every payload (src/codec/encryption-codec.ts) with the user's keyring, and a
// failure converter that moves error messages and stack traces into (encrypted) payloads. Secrets that pass through
// a workflow — private keys, bootstrap tokens, certificate keys — therefore never reach Temporal's database, logs
// or Web UI in plain text. `kubeadm2ha codec serve` lets the Web UI decrypt in the browser.
//
// KUBEADM2HA_CODEC=off turns encryption off, for debugging only (it says so on stderr). Client and worker must
// agree: a worker without the codec cannot read what an encrypting client wrote. A client decoding passes
// unencrypted payloads through, so turning encryption on later keeps old histories readable; the worker wraps them
// (src/codec/unencrypted.ts) so its workflows refuse input from anyone without the keyring.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec } from '../codec/encryption-codec.js';
import { FileKeySource } from '../codec/file-key-source.js';
import { keyringPath } from '../codec/keyring.js';
import { InvalidInputError } from '../errors.js';

export const CODEC_ENV = 'KUBEADM2HA_CODEC';

export interface DataConverterOptions {
  /** Where KUBEADM2HA_CODEC and KUBEADM2HA_CODEC_KEYRING are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The worker's converter wraps payloads that arrive unencrypted; a client's hands them on. */
  role?: 'client' | 'worker';
}

export function dataConverter(opts: DataConverterOptions = {}): DataConverter | undefined {
  const env = opts.env ?? process.env;
  if (!codecEnabled(env)) {
    warnPlaintext();
    return undefined;
  }
  return {
    payloadCodecs: [
      new EncryptionCodec(keySource(keyringPath(env)), { unencrypted: opts.role === 'worker' ? 'wrap' : 'pass' }),
    ],
    failureConverterPath: failureConverterPath(),
  };
}

/** KUBEADM2HA_CODEC: unset/on/1/true = encrypt (default); off/0/false = plain text. Anything else is an error. */
export function codecEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env[CODEC_ENV] ?? '').trim().toLowerCase();
  if (['', 'on', '1', 'true', 'yes'].includes(v)) return true;
  if (['off', '0', 'false', 'no'].includes(v)) return false;
  throw new InvalidInputError(`${CODEC_ENV}=${env[CODEC_ENV]}: expected on or off`);
}

/**
 * Absolute path of the failure converter module, for Worker.create (via dataConverter) and bundleWorkflowCode.
 * It is plain JS in src/codec; from a build in dist/ the same file is found under the package's src/.
 */
export function failureConverterPath(): string {
  const candidates = ['../codec/failure-converter.js', '../../src/codec/failure-converter.js'].map((rel) =>
    fileURLToPath(new URL(rel, import.meta.url)),
  );
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`kubeadm2ha: failure converter module not found (looked at ${candidates.join(', ')})`);
  return found;
}

// One key source per keyring file for the whole process: client and worker then share one cached read.
const sources = new Map<string, FileKeySource>();
function keySource(path: string): FileKeySource {
  let s = sources.get(path);
  if (!s) sources.set(path, (s = new FileKeySource(path)));
  return s;
}

let warned = false;
function warnPlaintext(): void {
  if (warned) return;
  warned = true;
  process.stderr.write(
    `kubeadm2ha: ${CODEC_ENV}=off — payload encryption is OFF; secrets will be stored in Temporal history in plain text. Use for debugging only.\n`,
  );
}
