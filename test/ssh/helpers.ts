// Plumbing for the SSH integration tests: pools pointed at a lab (never at the operator's ~/.ssh), targets by host
// name, and polling with a deadline instead of sleeps.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Lab } from '../../lab/index.js';
import { SshSettings } from '../../src/inventory/schema.js';
import { SshPool, type SshPoolOptions, type SshTarget } from '../../src/ssh/index.js';
import type { z } from 'zod';
export { pollUntil } from '../support/poll.js';

export type SshSettingsInput = z.input<typeof SshSettings>;

/** The lab inventory's ssh settings (root, lab key, lab known_hosts, strict, no agent) with `over` on top. */
export function labSettings(lab: Lab, over: SshSettingsInput = {}): SshSettings {
  return SshSettings.parse({ ...lab.inventory().ssh, ...over });
}

/** A pool whose `~` is an empty directory in the lab, so the operator's ~/.ssh/config and keys play no part. */
export async function labPool(lab: Lab, over: SshSettingsInput = {}, opts: SshPoolOptions = {}): Promise<SshPool> {
  const homeDir = join(lab.dir, 'operator-home');
  await mkdir(homeDir, { recursive: true });
  return new SshPool(labSettings(lab, over), { homeDir, ...opts });
}

export function target(lab: Lab, name: string, extra: Partial<SshTarget> = {}): SshTarget {
  const h = lab.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no host ${name} in lab ${lab.id}`);
  return { name: h.name, address: h.address, ...extra };
}

/** How many processes on `host` have exactly `cmdline` as their command line (pgrep -x -f). */
export async function countProcesses(lab: Lab, host: string, cmdline: string): Promise<number> {
  const re = cmdline.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const r = await lab.exec(host, `pgrep -c -x -f -- ${shq(re)}`, { allowFail: true });
  return Number(r.stdout.trim() || '0');
}

/** Kill the sshd process serving the connection whose client port is `clientPort` (from $SSH_CONNECTION). */
export async function killSshConnection(lab: Lab, host: string, clientPort: string): Promise<number[]> {
  const r = await lab.exec(
    host,
    `ss -tnpH state established '( sport = :22 and dport = :${Number(clientPort)} )' | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u`,
  );
  const pids = r.stdout.split('\n').filter(Boolean).map(Number);
  if (pids.length === 0) throw new Error(`${host}: no sshd serves client port ${clientPort}`);
  await lab.exec(host, `kill -9 ${pids.join(' ')}`);
  return pids;
}

/** Single-quote for lab.exec's /bin/sh (test-side only; the code under test uses src/ssh/quote.ts). */
export const shq = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
