// The worker's half of the contract in ./unencrypted.ts: a payload that arrives without our encryption becomes
// the JSON payload `{ "kubeadm2ha/unencrypted": <its value> }`, so workflow code sees that it came from someone
// without the keyring and input validation refuses it. Decoding never throws here: a throw in the codec would fail
// the workflow task, which Temporal retries forever, instead of ending the run with InvalidInput.
//
// What the value inside the wrapper is, by the payload's encoding:
//   json/plain with valid JSON → that JSON value (re-serialised, so the wrapper is exactly one key);
//   anything else (binary/null, binary/plain bytes, protobuf, JSON that does not parse) → null. No input or
//   message of ours is bytes or protobuf, so nothing a workflow might accept is lost; the wrapper still marks it.
import type { Payload } from '@temporalio/common';
import { UNENCRYPTED } from './unencrypted.js';

const JSON_PLAIN = 'json/plain';

export function wrapUnencrypted(payload: Payload): Payload {
  return {
    metadata: { encoding: Buffer.from(JSON_PLAIN, 'utf8') },
    data: Buffer.from(JSON.stringify({ [UNENCRYPTED]: plainValue(payload) }), 'utf8'),
  };
}

function plainValue(payload: Payload): unknown {
  const encoding = payload.metadata?.encoding;
  if (!encoding || Buffer.from(encoding).toString('utf8') !== JSON_PLAIN || !payload.data) return null;
  try {
    return JSON.parse(Buffer.from(payload.data).toString('utf8')) as unknown;
  } catch {
    return null;
  }
}
