// A CLI command's `--json` output as the test sees it: what the command prints with console.log, captured (nothing
// reaches the test's own output) and parsed. The etcd lab tests read `etcd setup --dry-run --json` this way.
import { vi } from 'vitest';

/** Runs `command` with console.log captured, and parses the lines it printed as one JSON document. */
export async function printedJson<T>(command: () => Promise<unknown>): Promise<T> {
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  try {
    await command();
  } finally {
    log.mockRestore();
  }
  return JSON.parse(out.join('\n')) as T;
}
