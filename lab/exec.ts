// Run a shell command inside a lab host without ssh, for test setup and inspection: nsenter joins the mount, uts,
// net and pid namespaces of the host's PID 1 (so `pkill etcd` only sees that host's processes). stdout/stderr go to
// files, not pipes, so a command that leaves a daemon behind (`{ setsid nohup x & }`) still returns when the shell
// exits instead of when the daemon closes the inherited pipe.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A clean environment: nothing of the operator's (tokens, SSH_AUTH_SOCK) leaks into the host. */
const HOST_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  USER: 'root',
  LOGNAME: 'root',
  SHELL: '/bin/bash',
};

export async function execInHost(initPid: number, scratchDir: string, cmd: string): Promise<ExecResult> {
  await mkdir(scratchDir, { recursive: true });
  const base = join(scratchDir, randomBytes(6).toString('hex'));
  const [out, err] = await Promise.all([open(`${base}.out`, 'w'), open(`${base}.err`, 'w')]);
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(
        'nsenter',
        ['-t', String(initPid), '-m', '-u', '-n', '-p', '--', '/bin/sh', '-c', `cd /root && ${cmd}`],
        { stdio: ['ignore', out.fd, err.fd], env: HOST_ENV, cwd: '/' },
      );
      child.once('error', reject);
      child.once('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
    });
    const [stdout, stderr] = await Promise.all([readFile(`${base}.out`, 'utf8'), readFile(`${base}.err`, 'utf8')]);
    return { code, stdout, stderr };
  } finally {
    await Promise.all([out.close(), err.close()]);
    await Promise.all([rm(`${base}.out`, { force: true }), rm(`${base}.err`, { force: true })]);
  }
}
