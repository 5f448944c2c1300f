// The failure converter for client, worker and workflow bundle (DataConverter.failureConverterPath). By default
// Temporal stores error messages and stack traces in plain text; with encodeCommonAttributes they move into a
// payload, which the encryption codec then seals — so an error that quotes a token or key is encrypted too.
//
// Plain JavaScript on purpose: the SDK loads this path with require() in the worker (no TypeScript loader there, as
// under vitest or tsx's ESM-only hook) and webpack puts it into the workflow bundle. It must stay workflow-safe:
// @temporalio/common only.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
