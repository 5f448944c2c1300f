// What makes a lab host a particular kind of host: how its files are laid out, how its PID 1 starts, when it
// counts as up, and which process `lab.exec` enters. createLab does the rest (ids, network, registration,
// known_hosts, teardown) the same way for every kind. The default is the namespace host (host-init + sshd);
// lab/nspawn adds hosts that boot real systemd under systemd-nspawn.
import { prepareHost } from './host-files.js';
import { startHostProcess, type HostProcess, type StartOptions } from './host-process.js';

export interface HostKind {
  /** Executables the kind needs on the operator machine, checked before anything is made. */
  tools: readonly string[];
  /** Lay out host `index` under the lab dir; returns its known_hosts line (`address type key`). */
  prepare(labDir: string, id: number, index: number, n: number, clientPub: string): Promise<string>;
  start(o: StartOptions): Promise<HostProcess>;
  /** Extra readiness after sshd sends its banner (an nspawn host: systemd finished booting). Throws if not. */
  ready?(name: string, p: HostProcess, labDir: string, timeoutMs: number): Promise<void>;
  /** The process whose namespaces `lab.exec` enters. */
  execPid(p: HostProcess): number;
}

export const namespaceHostKind: HostKind = {
  tools: ['/usr/sbin/sshd', '/usr/bin/nsenter', '/usr/bin/unshare'],
  prepare: prepareHost,
  start: startHostProcess,
  execPid: (p) => p.init.pid,
};
