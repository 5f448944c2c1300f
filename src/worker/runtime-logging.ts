// The SDK logs activity and workflow failures itself (message, stack, sometimes arguments) before our code can
// redact them; the payload codec does not reach those lines. This installs one process-wide logger that passes
// every line and its metadata through the same redaction as command output, at a level from
// KUBEADM2HA_LOG_LEVEL (default INFO; tests set WARN to keep logs readable).
import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';
import { redact } from '../ssh/redact.js';

const levels: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

function level(): LogLevel {
  const want = (process.env.KUBEADM2HA_LOG_LEVEL ?? 'INFO').toUpperCase();
  return (levels as readonly string[]).includes(want) ? (want as LogLevel) : 'INFO';
}

/** Deep copy of log metadata with every string redacted (errors become their redacted message and stack). */
export function redactMeta(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (value instanceof Error)
    return { name: value.name, message: redact(value.message), stack: redact(value.stack ?? '') };
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactMeta(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactMeta(v, depth + 1)]));
}

function write(entry: LogEntry): void {
  const meta = entry.meta ? ` ${JSON.stringify(redactMeta(entry.meta))}` : '';
  const when = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  process.stderr.write(`${when} [${entry.level}] ${redact(entry.message)}${meta}\n`);
}

let installed = false;

/** Install the redacting logger; must run before the first NativeConnection or Worker of the process. */
export function installRedactingLogger(): void {
  if (installed) return;
  installed = true;
  try {
    Runtime.install({ logger: new DefaultLogger(level(), write) });
  } catch {
    // A runtime already exists (someone connected first): keep it rather than crash; its logger is the SDK default.
  }
}
