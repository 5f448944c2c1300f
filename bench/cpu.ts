// CPU time, beside wall time: on this 2-core machine shared with other work, wall times move with the load while the
// CPU a run spends moves much less, and CPU is what a wider fan-out or a busier machine runs out of. Linux /proc.
import { readdirSync, readFileSync } from 'node:fs';

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

/** user+system ms of each thread of this process now, by thread id, with its name (Linux comm). */
export type ThreadCpu = Map<string, { name: string; ms: number }>;

export function threadCpu(): ThreadCpu {
  const out: ThreadCpu = new Map();
  let tids: string[] = [];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { name, ms: ((Number(f[11]) + Number(f[12])) * 1000) / 100 });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/**
 * Where this process's CPU went between two snapshots: the main thread (SSH, activities, the SDK's activation
 * plumbing, payload codec), the workflow thread (the threads that `workflowThreads` names: the sandbox, the SDK's
 * promise hook), sdk-core's Rust threads (tokio-*), and every other thread (V8's background JIT compiler and GC,
 * libuv's pool).
 */
export function threadSplit(
  before: ThreadCpu,
  after: ThreadCpu,
  workflowThreads: Set<string>,
): { main: number; workflow: number; core: number; other: number } {
  const split = { main: 0, workflow: 0, core: 0, other: 0 };
  for (const [tid, t] of after) {
    const ms = t.ms - (before.get(tid)?.ms ?? 0);
    if (tid === String(process.pid)) split.main += ms;
    else if (workflowThreads.has(tid)) split.workflow += ms;
    else if (t.name.startsWith('tokio')) split.core += ms;
    else split.other += ms;
  }
  return split;
}
