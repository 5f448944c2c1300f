// Which lab ids are taken, by whom. Each live lab holds /run/kubeadm2ha-lab/<id>/ containing owner.json; the
// directory appears atomically (made under a private name, then renamed into place), so no other process ever sees
// an id directory without its owner. Another process may reap a lab whose owner died: it first claims the lab by
// mkdir of <id>/reaping, so two cleanups never tear down the same lab at once.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_ID, MIN_ID, REGISTRY_DIR } from './names.js';
import { isAlive, procId, type ProcId } from './proc.js';

export interface Owner {
  /** The process that created the lab (and, unless detached, tears it down). */
  owner: ProcId;
  dir: string;
  /** Detached labs outlive their creator; they are live while any of their hosts runs. */
  detached: boolean;
  /** Host PID 1s' parents (unshare), for the liveness of detached labs. */
  hosts: ProcId[];
}

export const registrationDir = (id: number): string => join(REGISTRY_DIR, String(id));

/** Claim the lowest free id. Throws when all are taken. */
export function claimId(dir: string): number {
  const me = procId(process.pid);
  if (!me) throw new Error('cannot read /proc/self/stat');
  const taken = new Set(listIds());
  for (let id = MIN_ID; id <= MAX_ID; id++) {
    if (!taken.has(id) && claimSpecificId(id, dir, me)) return id;
  }
  throw new Error(`no free lab id in ${MIN_ID}..${MAX_ID} (see \`kubeadm2ha lab status\`)`);
}

/** Take `id` if nobody holds it. Also used to clear orphan kernel objects of an id without racing its next user. */
export function claimSpecificId(id: number, dir: string, me: ProcId = procId(process.pid)!): boolean {
  mkdirSync(REGISTRY_DIR, { recursive: true, mode: 0o755 });
  const tmp = join(REGISTRY_DIR, `.new-${process.pid}-${id}`);
  mkdirSync(tmp, { recursive: true });
  writeOwnerFile(tmp, { owner: me, dir, detached: false, hosts: [] });
  try {
    // Atomic: fails with ENOTEMPTY/EEXIST when another process took this id first (its dir holds owner.json).
    renameSync(tmp, registrationDir(id));
    return true;
  } catch {
    rmSync(tmp, { recursive: true, force: true });
    return false;
  }
}

function writeOwnerFile(regDir: string, owner: Owner): void {
  const tmp = join(regDir, `.owner.${process.pid}`);
  writeFileSync(tmp, JSON.stringify(owner) + '\n');
  renameSync(tmp, join(regDir, 'owner.json'));
}

export function updateOwner(id: number, owner: Owner): void {
  writeOwnerFile(registrationDir(id), owner);
}

export function readOwner(id: number): Owner | undefined {
  try {
    return JSON.parse(readFileSync(join(registrationDir(id), 'owner.json'), 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

export function listIds(): number[] {
  let names: string[];
  try {
    names = readdirSync(REGISTRY_DIR);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

/** A lab is live while its creator runs, or, once detached, while any of its hosts runs. */
export function isLive(owner: Owner | undefined): boolean {
  if (!owner) return false;
  if (isAlive(owner.owner)) return true;
  return owner.detached && owner.hosts.some((h) => isAlive(h));
}

/** Take the right to tear lab `id` down; false when a live process already does. */
export function claimReap(id: number): boolean {
  const reaping = join(registrationDir(id), 'reaping');
  const me = procId(process.pid)!;
  let sawNoPid = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      mkdirSync(reaping);
      writeFileSync(join(reaping, 'pid.json'), JSON.stringify(me));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // the whole lab is already gone
      let holder: ProcId | undefined;
      try {
        holder = JSON.parse(readFileSync(join(reaping, 'pid.json'), 'utf8')) as ProcId;
      } catch {
        // Between another reaper's mkdir and its pid write; stale only if still so on the second look.
        if (!sawNoPid) {
          sawNoPid = true;
          continue;
        }
      }
      if (holder && holder.pid === process.pid) return true;
      if (holder && isAlive(holder)) return false;
      rmSync(reaping, { recursive: true, force: true });
    }
  }
  return false;
}

export function release(id: number): void {
  rmSync(registrationDir(id), { recursive: true, force: true });
}
