// Stand-in for a host, for unit tests: runs the exact command line SshPool would send, with the local `sh -c`,
// which is what sshd does with it (`$SHELL -c <line>`). Everything but the SSH transport is the real thing.
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { buildCommand, describe, toRunResult, type RawResult } from '../../../src/ssh/exec.js';
import type { Runner } from '../../../src/ssh/files.js';

export function localShell(opts: { mangleStdin?: (b: Buffer) => Buffer } = {}): Runner & { lines: string[] } {
  const lines: string[] = [];
  return {
    name: 'local',
    lines,
    async run(command, o = {}) {
      const timeoutMs = o.timeoutMs ?? 20_000;
      const line = buildCommand(command, { ...(o.env ? { env: o.env } : {}), timeoutMs });
      lines.push(line);
      const started = performance.now();
      const raw = await new Promise<RawResult>((resolve, reject) => {
        const child = spawn('sh', ['-c', line], { stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (d: Buffer) => out.push(d));
        child.stderr.on('data', (d: Buffer) => err.push(d));
        child.on('error', reject);
        child.on('close', (code, signal) => {
          const r: RawResult = {
            code,
            stdout: Buffer.concat(out),
            stderr: Buffer.concat(err),
            durationMs: performance.now() - started,
          };
          if (signal) r.signal = signal.replace(/^SIG/, '');
          resolve(r);
        });
        child.stdin.on('error', () => undefined); // a command that exits without reading stdin
        if (o.stdin instanceof Readable) {
          o.stdin.pipe(child.stdin);
          return;
        }
        const input = o.stdin === undefined ? undefined : Buffer.from(o.stdin);
        child.stdin.end(input && opts.mangleStdin ? opts.mangleStdin(input) : input);
      });
      return toRunResult('local', raw, describe(command, o.action), {
        allowNonZero: o.allowNonZero ?? false,
        timeoutMs,
      });
    },
  };
}
