// createLab: N SSH hosts on this machine, each a network namespace on the lab's own bridge with its own pid,
// mount and uts namespaces, filesystem view (overlays), hostname, machine-id and sshd. See /work/shared/LAB.md
// §3–4 for the recipe and its measurements; this module is that recipe made safe to run concurrently (lab ids,
// per-lab names and /24s) and to clean up after (teardown.ts).
import { access, mkdtemp, writeFile } from 'node:fs/promises';
import { constants, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InventoryInput } from '../src/inventory/schema.js';
import { execInHost, type ExecResult } from './exec.js';
import { HOST_INIT, sshConfigText } from './host-files.js';
import { namespaceHostKind, type HostKind } from './host-kind.js';
import { writeEd25519KeyPair } from './openssh-key.js';
import { initLogTail, stopHostProcess, waitForSsh, type HostProcess } from './host-process.js';
import { labInventory, writeLabInventory, type LabInventoryOverrides } from './inventory.js';
import { bridgeAddressOf, hostAddress, hostName, MAX_HOSTS, netnsName, subnetOf, vipOf } from './names.js';
import { createNetwork, ensureBlackhole, removeNetwork } from './network.js';
import { procId } from './proc.js';
import { claimId, updateOwner } from './registry.js';
import { cleanupStaleLabsSync, teardownLab, type LabRecord } from './teardown.js';
import { forgetOnExit, teardownOnExit } from './exit-handlers.js';

export interface LabHost {
  /** h1..hN */
  name: string;
  /** 10.200.<id>.(10+index) */
  address: string;
  index: number;
}

export interface Lab {
  /** 1..250; picks the /24. */
  id: number;
  dir: string;
  subnet: string;
  /** Root namespace side of the bridge: the operator machine reaches hosts through it. */
  bridgeAddress: string;
  /** Free address in the subnet, for keepalived. */
  vip: string;
  hosts: LabHost[];
  privateKeyPath: string;
  knownHostsPath: string;
  sshConfigPath: string;
  inventory(overrides?: LabInventoryOverrides): InventoryInput;
  /** Writes YAML (default `${dir}/inventory.yaml`) and returns its path. */
  writeInventory(path?: string): Promise<string>;
  /** Run `cmd` with /bin/sh inside the host (nsenter into its PID 1's namespaces, not ssh). Throws on non-zero exit
   * unless allowFail. */
  exec(host: string, cmd: string, opts?: { allowFail?: boolean }): Promise<ExecResult>;
  /** The host goes down: sshd and every process on it die; its netns stays, so it is unreachable (refused). */
  stopHost(name: string): Promise<void>;
  /** Boots the host again with the same files and host key; resolves once sshd accepts. */
  startHost(name: string): Promise<void>;
  /** Idempotent full teardown. */
  destroy(): Promise<void>;
}

export interface CreateLabOptions {
  hosts: number;
  /** Default true: ip_forward=1 and bridge-nf-call-iptables=1 in each host's netns, as kubeadm preflight wants. */
  prepared?: boolean;
  /** Outlive this process (no exit handlers); `npm run lab -- down --id N` removes it. */
  detached?: boolean;
  /** Deadline for all sshds to accept (default 20 s). */
  readyTimeoutMs?: number;
  /** Namespace hosts (default) or another kind, e.g. lab/nspawn's systemd hosts. */
  kind?: HostKind;
}

const TOOLS = [
  '/usr/sbin/sshd',
  '/usr/bin/ssh-keygen',
  '/usr/bin/nsenter',
  '/usr/bin/unshare',
  '/usr/bin/setpriv',
  '/usr/bin/flock',
];

async function requireTools(kind: HostKind): Promise<void> {
  const missing: string[] = [];
  for (const t of new Set([...TOOLS, ...kind.tools])) {
    try {
      await access(t, constants.X_OK);
    } catch {
      missing.push(t);
    }
  }
  if (missing.length) {
    throw new Error(
      `lab needs ${missing.join(', ')}: run \`bash scripts/setup.sh\` (or \`npm run lab -- up\`, which installs them)`,
    );
  }
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces, mounts)');
}

export async function createLab(opts: CreateLabOptions): Promise<Lab> {
  const n = opts.hosts;
  if (!Number.isInteger(n) || n < 1 || n > MAX_HOSTS) throw new Error(`lab hosts must be 1..${MAX_HOSTS}, got ${n}`);
  const prepared = opts.prepared ?? true;
  const detached = opts.detached ?? false;
  const kind = opts.kind ?? namespaceHostKind;
  await requireTools(kind);
  cleanupStaleLabsSync();

  const dir = await mkdtemp('/tmp/k2h-lab.');
  const id = claimId(dir);
  const me = procId(process.pid)!;
  // From here on a failure (or a signal) must not leave anything behind.
  if (!detached) teardownOnExit(id, () => teardownLab(id, dir));
  const hosts: LabHost[] = Array.from({ length: n }, (_, k) => ({
    name: hostName(k + 1),
    address: hostAddress(id, k + 1),
    index: k + 1,
  }));
  const procs = new Map<string, HostProcess | undefined>();
  const privateKeyPath = join(dir, 'id_ed25519');
  const knownHostsPath = join(dir, 'known_hosts');
  const sshConfigPath = join(dir, 'ssh_config');

  const record = (): LabRecord => ({
    id,
    dir,
    subnet: subnetOf(id),
    vip: vipOf(id),
    detached,
    owner: me,
    hosts: hosts.map((h) => {
      const p = procs.get(h.name);
      return { ...h, netns: netnsName(id, h.index), ...(p && { unshare: p.unshare, init: p.init }) };
    }),
  });
  const saveRecord = (): void => {
    writeFileSync(join(dir, 'lab.json'), JSON.stringify(record(), null, 2) + '\n');
    const unshares = [...procs.values()].filter((p): p is HostProcess => !!p).map((p) => p.unshare);
    updateOwner(id, { owner: me, dir, detached, hosts: unshares });
  };

  const boot = async (h: LabHost, prepare: boolean): Promise<void> => {
    const p = await kind.start({
      labDir: dir,
      labId: id,
      netnsPath: `/run/netns/${netnsName(id, h.index)}`,
      index: h.index,
      prepare,
      detached,
    });
    procs.set(h.name, p);
  };

  // KUBEADM2HA_LAB_TRACE=1 prints how long each start-up phase took (stderr).
  const t0 = performance.now();
  let tPrev = t0;
  const phase = (what: string): void => {
    if (!process.env.KUBEADM2HA_LAB_TRACE) return;
    const now = performance.now();
    process.stderr.write(`lab ${id}: ${what} ${(now - tPrev).toFixed(0)} ms (total ${(now - t0).toFixed(0)})\n`);
    tPrev = now;
  };
  try {
    // A leftover with this id's names cannot be ours: clear it (the id is ours now, nobody else uses the names).
    removeNetwork(id);
    await ensureBlackhole();
    phase('leftovers + blackhole');
    const [clientPub] = await Promise.all([
      writeEd25519KeyPair(privateKeyPath, `kubeadm2ha-lab${id}`),
      createNetwork(id, n),
      writeFile(join(dir, 'host-init.sh'), HOST_INIT, { mode: 0o755 }),
    ]);
    phase('network + client key');
    // Each host boots as soon as its own files are there; known_hosts is only needed by clients, later.
    const known = await Promise.all(
      hosts.map(async (h) => {
        const line = await kind.prepare(dir, id, h.index, n, clientPub);
        await boot(h, prepared);
        return line;
      }),
    );
    await writeFile(knownHostsPath, known.join('\n') + '\n', { mode: 0o644 });
    await writeFile(sshConfigPath, sshConfigText(id, n, privateKeyPath, knownHostsPath));
    saveRecord();
    phase('host files + processes');
    await waitAllReady(hosts, procs, dir, kind, opts.readyTimeoutMs ?? 20_000);
    phase('hosts ready');
    if (detached) saveRecord();
  } catch (err) {
    if (!detached) forgetOnExit(id);
    teardownLab(id, dir);
    throw err;
  }

  const hostProc = (name: string): HostProcess => {
    if (!hosts.some((h) => h.name === name)) throw new Error(`lab ${id} has no host ${name}`);
    const p = procs.get(name);
    if (!p) throw new Error(`${name} is stopped`);
    return p;
  };
  let destroyed: Promise<void> | undefined;

  const lab: Lab = {
    id,
    dir,
    subnet: subnetOf(id),
    bridgeAddress: bridgeAddressOf(id),
    vip: vipOf(id),
    hosts,
    privateKeyPath,
    knownHostsPath,
    sshConfigPath,
    inventory: (overrides) => labInventory({ id, vip: vipOf(id), hosts, privateKeyPath, knownHostsPath }, overrides),
    writeInventory(path = join(dir, 'inventory.yaml')) {
      return writeLabInventory(path, lab.inventory());
    },
    async exec(host, cmd, execOpts = {}) {
      const res = await execInHost(kind.execPid(hostProc(host)), join(dir, 'exec'), cmd);
      if (res.code !== 0 && !execOpts.allowFail) {
        throw new Error(
          `${host}: \`${cmd}\` exited ${res.code}: ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        );
      }
      return res;
    },
    async stopHost(name) {
      const p = hostProc(name);
      await stopHostProcess(p);
      procs.set(name, undefined);
      saveRecord();
    },
    async startHost(name) {
      const h = hosts.find((x) => x.name === name);
      if (!h) throw new Error(`lab ${id} has no host ${name}`);
      if (procs.get(name)) return;
      await boot(h, false);
      saveRecord();
      await waitAllReady([h], procs, dir, kind, opts.readyTimeoutMs ?? 20_000);
    },
    destroy() {
      destroyed ??= (async () => {
        // Hosts down without blocking the event loop (a worker in this process may still be shutting down),
        // then the rest, which is quick.
        await Promise.all([...procs.values()].filter((p) => p !== undefined).map((p) => stopHostProcess(p)));
        teardownLab(id, dir);
        if (!detached) forgetOnExit(id);
      })();
      return destroyed;
    },
  };
  return lab;
}

async function waitAllReady(
  hosts: LabHost[],
  procs: Map<string, HostProcess | undefined>,
  dir: string,
  kind: HostKind,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const results = await Promise.all(hosts.map((h) => waitForSsh(h.address, procs.get(h.name)!, timeoutMs)));
  const failed = hosts.filter((_, k) => !results[k]);
  if (failed.length) {
    throw new Error(
      `lab hosts not accepting ssh within ${timeoutMs} ms: ${failed.map((h) => `${h.name} (${initLogTail(dir, h.index)})`).join('; ')}`,
    );
  }
  if (kind.ready) {
    await Promise.all(
      hosts.map((h) => kind.ready!(h.name, procs.get(h.name)!, dir, Math.max(1000, deadline - Date.now()))),
    );
  }
}
