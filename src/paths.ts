// Where kubeadm2ha keeps things on the operator's machine. Everything lives outside the clone:
// caches are keyed by version so a new version never reuses an old build, and state survives `git clean`.
import { homedir } from 'node:os';
import { join } from 'node:path';

const home = homedir();

/** Build caches (Temporal CLI, Kubernetes binaries). Safe to delete; rebuilt when missing. */
export function cacheDir(...parts: string[]): string {
  return join(process.env.KUBEADM2HA_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(home, '.cache'), 'kubeadm2ha'), ...parts);
}

/** Durable local state (the dev server's SQLite file, pid files, logs). */
export function stateDir(...parts: string[]): string {
  return join(
    process.env.KUBEADM2HA_STATE_DIR ?? join(process.env.XDG_STATE_HOME ?? join(home, '.local', 'state'), 'kubeadm2ha'),
    ...parts,
  );
}

/** User configuration (the payload codec key lives here). */
export function configDir(...parts: string[]): string {
  return join(
    process.env.KUBEADM2HA_CONFIG_DIR ?? join(process.env.XDG_CONFIG_HOME ?? join(home, '.config'), 'kubeadm2ha'),
    ...parts,
  );
}
