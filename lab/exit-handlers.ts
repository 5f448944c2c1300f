// Labs this process owns are torn down when it ends: normal exit, an uncaught error, or SIGINT/SIGTERM/SIGHUP.
// The teardowns are synchronous because 'exit' listeners cannot wait. After a signal we re-raise it when nobody
// else listens, so the process still dies the way the sender meant (exit code 128+n).
const teardowns = new Map<number, () => void>();
let installed = false;

function runAll(): void {
  for (const [id, fn] of [...teardowns]) {
    teardowns.delete(id);
    try {
      fn();
    } catch (err) {
      process.stderr.write(`kubeadm2ha lab ${id}: teardown failed: ${String(err)}\n`);
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  runAll();
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, onSignal);
}

export function teardownOnExit(id: number, fn: () => void): void {
  install();
  teardowns.set(id, fn);
}

export function forgetOnExit(id: number): void {
  teardowns.delete(id);
}
