// The contract between the worker's payload codec and workflow code for payloads that arrive WITHOUT our
// encryption: the Web UI's signal dialog (it cannot encrypt: the codec server only decodes), or a client that has
// no keyring. Such a payload is never trusted as workflow input (a stranger could name hosts and the worker would
// ship keys to them). The codec does not drop it either: it hands it to the workflow wrapped as
// `{ [UNENCRYPTED]: <the decoded JSON value> }`, so that
//   - input validation at the start of every workflow refuses it (the wrapper fits no input schema), and
//   - the few messages that are safe from anyone with namespace write access (an operator's decision or approval
//     sent from the Web UI: chosen from a closed set, checked by the same validator as the CLI's update) can
//     unwrap it on purpose and record that it came unencrypted.
// Workflow-safe: no imports.

export const UNENCRYPTED = 'kubeadm2ha/unencrypted';

export interface UnencryptedValue {
  [UNENCRYPTED]: unknown;
}

export function isUnencrypted(value: unknown): value is UnencryptedValue {
  return typeof value === 'object' && value !== null && Object.prototype.hasOwnProperty.call(value, UNENCRYPTED);
}

/** The value inside the wrapper (or the value itself), and whether it came unencrypted. */
export function unwrapUnencrypted(value: unknown): { value: unknown; unencrypted: boolean } {
  return isUnencrypted(value) ? { value: value[UNENCRYPTED], unencrypted: true } : { value, unencrypted: false };
}
