// Test helper: run the real openssl CLI on PEM strings written to a scratch directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OPENSSL = '/usr/bin/openssl';

export interface OpensslResult {
  code: number;
  out: string;
}

export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), 'kubeadm2ha-pki-'));

  file(name: string, content: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  }

  /** Runs openssl; never throws on a non-zero exit, so tests can assert failures too. */
  openssl(...args: string[]): OpensslResult {
    try {
      const out = execFileSync(OPENSSL, args, { cwd: this.dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      return { code: 0, out };
    } catch (err) {
      const e = err as { status?: number; stdout?: string; stderr?: string };
      return { code: e.status ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
