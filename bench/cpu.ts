// CPU time, beside wall time: on this 2-core machine shared with other work, wall times move with the load while the
// CPU a run spends moves much less, and CPU is what a wider fan-out or a busier machine runs out of. Linux /proc.
import { readFileSync } from 'node:fs';

/** user+system ms of a process (all its threads, living or ended), or NaN when it cannot be read. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** user+system ms of this process's children that have ended and been waited for (ansible-playbook and its forks). */
export function childrenCpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
}

/** user+system ms of this process so far (the bench process: its embedded worker, client and ssh2 floor). */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** CPU spent by `fn`: this process, the Temporal server (by pid) and waited-for children, in ms. */
export async function withCpu<T>(
  serverPid: number | undefined,
  fn: () => Promise<T>,
): Promise<{ value: T; self: number; server: number; children: number }> {
  const [s0, v0, c0] = [selfCpuMs(), serverPid ? processCpuMs(serverPid) : NaN, childrenCpuMs()];
  const value = await fn();
  return {
    value,
    self: selfCpuMs() - s0,
    server: serverPid ? processCpuMs(serverPid) - v0 : NaN,
    children: childrenCpuMs() - c0,
  };
}
