import { describe, expect, it } from 'vitest';
import { redactMeta } from '../../../src/worker/runtime-logging.js';

describe('redactMeta', () => {
  it('redacts bootstrap tokens and private keys anywhere in log metadata, errors included', () => {
    const token = 'abcdef.0123456789abcdef';
    const pem = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkey\n-----END EC PRIVATE KEY-----';
    const err = new Error(`kubeadm join --token ${token} failed`);
    const out = JSON.stringify(redactMeta({ activityId: '1', failure: err, args: [{ key: pem }, `token ${token}`] }));
    expect(out).not.toContain(token);
    expect(out).not.toContain('MHcCAQEEIBkey');
    expect(out).toContain('activityId');
  });
});
