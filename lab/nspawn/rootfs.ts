// The Debian root filesystem nspawn hosts boot: built once by scripts/build-nspawn-rootfs.sh (mmdebstrap, cached
// outside the clone under a key of its package list, flock-guarded so concurrent test files wait for one build).
import { runBuildScript, type BuildScriptOptions } from '../build-script.js';

/** Path of the finished root fs (read-only to hosts: each boots it through its own overlay). */
export function ensureNspawnRootfs(opts: BuildScriptOptions = {}): Promise<string> {
  return runBuildScript(
    'build-nspawn-rootfs.sh',
    [],
    ['usr/lib/systemd/systemd', 'usr/sbin/sshd'],
    opts,
    (message) => new Error(`nspawn root fs: ${message}`),
  );
}
