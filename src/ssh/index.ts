// The SSH layer's public surface. Everything else in src/ssh is an implementation detail.
//
//   const pool = new SshPool(inventory.ssh);
//   const m1 = pool.session({ name: 'm1', address: '10.0.0.11', ...host.ssh });
//   const { stdout } = await m1.run(['kubeadm', 'version', '-o', 'short'], { action: 'kubeadm version' });
//   await m1.run({ script: 'systemctl restart kubelet' }, { timeoutMs: 60_000 });
//   await m1.putFile('/etc/kubernetes/pki/ca.key', key, { mode: 0o600 }); // → { changed }
//   await pool.closeAll();
//
// Guarantees: one connection per user@host:port (plus its bastion), reused by all sessions, TCP_NODELAY, keepalive;
// host keys checked against known_hosts (strict by default; `accept-new` records unknown keys; a changed key is
// always refused, naming the known_hosts file:line); a non-zero exit throws CommandFailedError naming `action` with
// redacted stderr; a command on a dropped connection reconnects once if it had not started, one that was running
// fails with a retryable HostUnreachableError and is not re-run. Errors are the classes in src/errors.ts (plus
// SudoUnavailableError, HostNotSuitable).
//
// Timeouts are enforced on the host: every command runs as `timeout -k 2 <s> …` (inside sudo), which kills its
// whole process group (needs coreutils `timeout` on the host, which every supported distro ships).
// With `sudo: true` and a non-root user, `sudo -n` is checked once per connection before the first command.
//
// Shell safety: argv commands are quoted element by element with `quote`; scripts run via `sh -c`. Anything you
// splice into a script yourself must go through `quote` too (or be passed as positional args: ['sh','-c',s,'sh',x]).
// argv[0] must be a program, not a shell builtin (it runs under `timeout`/`env`); use { script } for builtins.
export { SshPool, type SshPoolOptions } from './pool.js';
export type { SshTarget } from './resolve.js';
export type { HostSession } from './session.js';
export type { Command, RunOptions, RunResult } from './exec.js';
export type { PutFileOptions } from './files.js';
export { quote, shellCommand } from './quote.js';
export { redact, redactedTail } from './redact.js';
export { fingerprint } from './known-hosts.js';
export { SudoUnavailableError } from './sudo.js';
