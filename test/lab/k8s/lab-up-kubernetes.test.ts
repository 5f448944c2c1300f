// The developer command: `npm run lab -- up --kubernetes` (lab/cli.ts) brings up the real-Kubernetes variant that outlives the command
// (its registry and apt mirror are detached processes too), prints where everything is, and `lab down` from another
// process removes hosts, registry and mirror alike.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive, type ProcId } from '../../../lab/proc.js';

const run = promisify(execFile);
// The lab's own CLI through tsx, as `npm run lab` runs it (the lab is not part of the published kubeadm2ha CLI).
const CLI = ['--import', 'tsx', 'lab/cli.ts'];
let labId: number | undefined;

afterAll(async () => {
  if (labId !== undefined) await run(process.execPath, [...CLI, 'down', '--id', String(labId)]).catch(() => {});
});

describe('npm run lab -- up --kubernetes', () => {
  it('starts a detached Kubernetes lab with registry and mirror, and lab down removes all of it', async () => {
    const { stdout } = await run(process.execPath, [...CLI, 'up', '--kubernetes', '--hosts', '2', '--json'], {
      timeout: 600_000,
      maxBuffer: 16 << 20,
    });
    const out = JSON.parse(stdout) as {
      id: number;
      dir: string;
      inventory: string;
      kubernetes: { version: string; imageRepository: string; registry: string; aptMirror: string };
    };
    labId = out.id;
    const k = out.kubernetes;
    expect(k.imageRepository).toBe(`10.200.${out.id}.1:5000/k8s`);
    // The command has exited: registry and mirror still answer, because the lab is detached.
    const catalog = await fetch(`http://${k.registry}/v2/_catalog`).then(
      (r) => r.json() as Promise<{ repositories: string[] }>,
    );
    expect(catalog.repositories).toEqual(
      expect.arrayContaining(['k8s/kube-apiserver', 'k8s/kube-proxy', 'k8s/pause', 'k8s/coredns', 'k8s/hello']),
    );
    const packages = await fetch(`${k.aptMirror}Packages`).then((r) => r.text());
    expect(packages).toMatch(new RegExp(`Package: kubeadm\\nVersion: ${k.version.replaceAll('.', '\\.')}-1\\.1\\n`));
    // The inventory it wrote points at them.
    const inventory = readFileSync(out.inventory, 'utf8');
    expect(inventory).toContain(`imageRepository: ${k.imageRepository}`);
    expect(inventory).toContain(`mirror: ${k.aptMirror}`);
    const services = ['registry', 'apt-mirror-8080'].map(
      (n) => (JSON.parse(readFileSync(join(out.dir, 'services', `${n}.json`), 'utf8')) as { proc: ProcId }).proc,
    );
    expect(services.every(isAlive)).toBe(true);

    await run(process.execPath, [...CLI, 'down', '--id', String(out.id)]);
    labId = undefined;
    expect(services.some(isAlive)).toBe(false);
    expect(existsSync(out.dir)).toBe(false);
  }, 900_000);
});
