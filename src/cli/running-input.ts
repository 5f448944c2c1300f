// The input a running workflow was started with: the first event of its history, decoded through the client's own
// data converter (which decrypts), so a rerun can be compared with what is actually running.
import type { Client } from '@temporalio/client';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow/index.js';

export async function runningInput(client: Client, workflowId: string, runId: string): Promise<unknown> {
  const res = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  });
  const first = res.history?.events?.[0];
  const started = first?.workflowExecutionStartedEventAttributes;
  if (!started) throw new Error(`${workflowId}: its history does not start with WorkflowExecutionStarted`);
  const [input] = await decodeArrayFromPayloads(client.options.loadedDataConverter, started.input?.payloads);
  return input;
}
