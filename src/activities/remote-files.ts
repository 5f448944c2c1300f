// Reading a few small files from a host in one round trip (the PKI activities compare what a host has with what
// it should have before writing anything).
import type { HostSession } from '../ssh/index.js';

export interface RemoteFile {
  content: string;
  /** Permission bits, e.g. 0o600. */
  mode: number;
}

/** Read several remote files and their modes in one round trip; base64 keeps PEM newlines intact. Missing files
 * are simply absent from the map. */
const readFilesScript =
  'for f in "$@"; do if [ -f "$f" ]; then echo "present $(stat -c %a -- "$f") $f"; base64 -w0 < "$f"; echo; fi; done';

export async function readRemoteFiles(session: HostSession, paths: string[]): Promise<Map<string, RemoteFile>> {
  const out = await session.run(['sh', '-c', readFilesScript, 'sh', ...paths], {
    action: 'read existing certificates',
    timeoutMs: 30_000,
  });
  const files = new Map<string, RemoteFile>();
  const lines = out.stdout.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^present ([0-7]+) (.+)$/.exec(lines[i] ?? '');
    if (!m) continue;
    files.set(m[2] ?? '', {
      mode: parseInt(m[1] ?? '0', 8),
      content: Buffer.from(lines[i + 1] ?? '', 'base64').toString('utf8'),
    });
    i++;
  }
  return files;
}
