// Non-root logins run commands through `sudo -n`. Whether sudo will do that without a password is checked once per
// connection, before the first command. Without the check, every command on such a host fails with "sudo: a password
// is required" as a retryable CommandFailed, and the workflow retries something only a person can fix.
import { FailureType, KubeadmHaError } from '../errors.js';
import type { Connection } from './connection.js';
import { buildCommand, execRaw } from './exec.js';
import { redactedTail } from './redact.js';

/** sudo cannot be used without a password (or is missing). Not retryable: sudoers must change first. */
export class SudoUnavailableError extends KubeadmHaError {
  constructor(host: string, detail: string) {
    super(`sudo: ${detail}`, FailureType.HostNotSuitable, host);
  }
}

const PROBE_TIMEOUT_MS = 30_000;
const checked = new WeakMap<Connection, Promise<void>>();

/** Resolve when `sudo -n` works for this connection's user; the answer is kept for the connection's lifetime. */
export function ensureSudo(conn: Connection): Promise<void> {
  let check = checked.get(conn);
  if (!check) {
    check = probe(conn);
    checked.set(conn, check);
    // A failure is not kept: once someone fixes sudoers, the next command checks again.
    check.catch(() => checked.delete(conn));
  }
  return check;
}

async function probe(conn: Connection): Promise<void> {
  // Exactly the form every command takes (`sudo -n -- sh -c …`), so a sudoers rule that allows only some programs
  // is caught here rather than halfway through an operation.
  const line = buildCommand(['true'], { sudo: true });
  const raw = await execRaw(conn, line, 'sudo check', { timeoutMs: PROBE_TIMEOUT_MS });
  if (raw.code === 0) return;
  throw new SudoUnavailableError(conn.endpoint.label, sudoProblem(conn.endpoint.user, raw.code, raw.stderr.toString()));
}

/** Turn sudo's complaint into advice. Pure, so each case is unit-tested with sudo's real messages. */
export function sudoProblem(user: string, code: number | null, stderr: string): string {
  const grant = `give ${user} passwordless sudo (a line "${user} ALL=(ALL:ALL) NOPASSWD: ALL" in /etc/sudoers.d/) or log in as root`;
  if (code === 127 || /sudo: (?:command )?not found/.test(stderr)) {
    return `sudo is not installed, and ${user} is not root: install sudo and ${grant}`;
  }
  if (/password is required|terminal is required|askpass/i.test(stderr)) {
    return `${user} needs a password for sudo, and kubeadm2ha never types one (it runs sudo -n): ${grant}`;
  }
  if (/not in the sudoers|not allowed to execute|may not run sudo/i.test(stderr)) {
    return `${user} may not run "sh -c" as root through sudo: ${grant}`;
  }
  const tail = redactedTail(stderr, 5);
  return `"sudo -n true" failed for ${user} (exit ${code ?? 'signal'})${tail ? `: ${tail}` : ''}; ${grant}`;
}
