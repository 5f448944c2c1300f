// Shared plumbing for end-to-end tests: a client and worker connection to the run's Temporal server, unique ids,
// and polling with a deadline (never a fixed sleep).
import { randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowExecutionDescription } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { inject } from 'vitest';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { installRedactingLogger } from '../../src/worker/runtime-logging.js';
export { pollUntil } from '../support/poll.js';

export function temporalAddress(): string {
  return inject('temporalAddress') ?? process.env.TEMPORAL_TEST_ADDRESS ?? '127.0.0.1:7233';
}

export async function connectTemporal(address = temporalAddress()): Promise<{
  client: Client;
  native: NativeConnection;
  close: () => Promise<void>;
}> {
  const connection = await Connection.connect({ address });
  // Same converter as createKubeadmHaWorker: results and failures come back encrypted.
  const client = new Client({ connection, namespace: 'default', dataConverter: dataConverter() });
  installRedactingLogger();
  const native = await NativeConnection.connect({ address });
  return {
    client,
    native,
    close: async () => {
      await connection.close();
      await native.close();
    },
  };
}

export const uniqueQueue = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/** A described run's workflow task timeout in ms (what its start set, or the server's default of 10 s). */
export function workflowTaskTimeoutMs(desc: WorkflowExecutionDescription): number | undefined {
  const t = desc.raw.executionConfig?.defaultWorkflowTaskTimeout;
  return t ? Number(t.seconds ?? 0) * 1000 + Math.round((t.nanos ?? 0) / 1e6) : undefined;
}
