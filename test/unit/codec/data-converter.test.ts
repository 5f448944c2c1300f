// The DataConverter as the SDK loads it (loadDataConverter requires failureConverterPath exactly as Worker.create
// does), driven through the SDK's own encode/decode helpers for payloads and failures.
import { ApplicationFailure } from '@temporalio/common';
import {
  decodeFromPayloadsAtIndex,
  decodeOptionalFailureToOptionalError,
  encodeErrorToFailure,
  encodeToPayloads,
  loadDataConverter,
} from '@temporalio/common/lib/internal-non-workflow/index.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codecEnabled, dataConverter, failureConverterPath } from '../../../src/temporal/data-converter.js';
import { tempKeyringDir } from './helpers.js';

const TOKEN = 'q1w2e3.r4t5y6u7i8o9p0a1';

let t: Awaited<ReturnType<typeof tempKeyringDir>>;
beforeEach(async () => {
  t = await tempKeyringDir();
});
afterEach(async () => {
  await t.cleanup();
});

describe('dataConverter()', () => {
  it('is on by default, with the encryption codec and the failure converter path', () => {
    const dc = dataConverter({ env: { KUBEADM2HA_CODEC_KEYRING: t.path } });
    expect(dc?.payloadCodecs).toHaveLength(1);
    expect(dc?.failureConverterPath).toBe(failureConverterPath());
  });

  it('KUBEADM2HA_CODEC=off disables it; a typo is an error, not silently plain text', () => {
    expect(dataConverter({ env: { KUBEADM2HA_CODEC: 'off' } })).toBeUndefined();
    expect(codecEnabled({ KUBEADM2HA_CODEC: 'ON' })).toBe(true);
    expect(() => codecEnabled({ KUBEADM2HA_CODEC: 'of' })).toThrow(/expected on or off/);
  });

  it('payloads round-trip through the SDK helpers and are ciphertext in between', async () => {
    const loaded = loadDataConverter(dataConverter({ env: { KUBEADM2HA_CODEC_KEYRING: t.path } }));
    const payloads = (await encodeToPayloads(loaded, { token: TOKEN })) ?? [];
    expect(JSON.stringify(payloads)).not.toContain(TOKEN);
    expect(Buffer.from(payloads[0]!.data!).includes(TOKEN)).toBe(false);
    expect(await decodeFromPayloadsAtIndex(loaded, 0, payloads)).toEqual({ token: TOKEN });
  });

  it('error messages and stack traces are encrypted, and come back intact', async () => {
    const loaded = loadDataConverter(dataConverter({ env: { KUBEADM2HA_CODEC_KEYRING: t.path } }));
    const cause = new Error(`kubeadm join --token ${TOKEN} refused`);
    const err = ApplicationFailure.create({ message: `join failed with ${TOKEN}`, type: 'JoinFailed', cause });
    const failure = await encodeErrorToFailure(loaded, err);
    const wire = JSON.stringify(failure, (_k, v: unknown) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v,
    );
    expect(wire).not.toContain(TOKEN);
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace).toBe('');
    expect(failure.cause?.message).toBe('Encoded failure');
    expect(failure.applicationFailureInfo?.type).toBe('JoinFailed'); // types stay readable, so keep them secret-free

    const back = await decodeOptionalFailureToOptionalError(loaded, failure);
    expect(back?.message).toBe(`join failed with ${TOKEN}`);
    expect((back?.cause as Error | undefined)?.message).toContain(TOKEN);
    expect(back?.stack).toContain('data-converter.test.ts');
  });

  it('control: with KUBEADM2HA_CODEC=off the same failure carries the token in plain text', async () => {
    const loaded = loadDataConverter(dataConverter({ env: { KUBEADM2HA_CODEC: 'off' } }));
    const failure = await encodeErrorToFailure(loaded, new Error(`token ${TOKEN}`));
    expect(JSON.stringify(failure)).toContain(TOKEN);
  });
});
