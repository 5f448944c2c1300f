// `kubeadm2ha inventory validate|convert` as a user runs it: the real bin script, from source (tsx).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { convert, validate } from '../../../src/cli/commands/inventory.js';
import { FailureType } from '../../../src/errors.js';
import { InventoryError, loadInventory } from '../../../src/inventory/index.js';

// Starting the CLI from source takes seconds on a busy machine: spawn only where the process matters
// (exit code, stderr), call the command functions in-process for the rest.
const SPAWN_TIMEOUT = 90_000;

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = join(root, 'test/fixtures/inventory');

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'bin/kubeadm2ha.js'), ...args],
      { cwd: root, env: { ...process.env, KUBEADM2HA_FROM_SOURCE: '1' } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'k2h-inventory-cli-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('kubeadm2ha inventory validate', () => {
  it('exits 2 and prints every problem as file:line:col field: message', { timeout: SPAWN_TIMEOUT }, async () => {
    const file = join(fixtures, 'yaml/unknown-host-key.yaml');
    const r = await cli('inventory', 'validate', '-i', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('inventory is invalid (2 problems)');
    expect(r.stderr).toContain(`${file}:10:5 hosts[1].address: missing required key "address" in hosts[1]`);
    expect(r.stderr).toContain(`${file}:11:5 hosts[1].adress: unknown key "adress" (did you mean "address"?)`);
  });

  it('summarizes a valid inventory and exits 0', { timeout: SPAWN_TIMEOUT }, async () => {
    const r = await cli('inventory', 'validate', '-i', 'examples/ansible');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('examples/ansible/hosts: valid (Ansible inventory + 2 vars file(s))');
    expect(r.stdout).toMatch(/cluster {3}my-cluster, Kubernetes 1\.32\.4/);
    expect(r.stdout).toMatch(/primary-master {3}my-cluster-master-1 \(192\.168\.0\.51\)/);
    expect(r.stdout).toMatch(/warnings {2}4\n/);
  });

  it('throws an InvalidInput error (exit code 2) naming group_vars lines for a seed inventory', async () => {
    const err = await validate({ inventory: join(fixtures, 'ini/old-kubernetes') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InventoryError);
    expect((err as InventoryError).type).toBe(FailureType.InvalidInput);
    expect((err as Error).message).toContain(
      `${join(fixtures, 'ini/old-kubernetes/group_vars/all.yaml')}:2:21 KUBERNETES_VERSION: Kubernetes older than 1.28`,
    );
  });

  it('--json prints the issues for a program before failing', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const err = await validate({ inventory: join(fixtures, 'yaml/vip-outside-subnet.yaml'), json: true }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InventoryError);
    const out = JSON.parse(String(log.mock.calls[0]?.[0])) as {
      valid: boolean;
      issues: { line: number; column: number; field: string }[];
    };
    expect(out.valid).toBe(false);
    expect(out.issues).toEqual([expect.objectContaining({ line: 5, column: 14, field: 'cluster.vip.address' })]);
  });

  it('reports a path that does not exist as bad input', async () => {
    const err = await validate({ inventory: join(tmp, 'nope.yaml') }).catch((e: unknown) => e);
    expect((err as InventoryError).type).toBe(FailureType.InvalidInput);
    expect((err as Error).message).toContain('nope.yaml:1:1 cannot read the inventory: no such file or directory');
  });
});

describe('kubeadm2ha inventory convert', () => {
  it('writes YAML that loads to the same inventory', { timeout: SPAWN_TIMEOUT }, async () => {
    const out = join(tmp, 'converted.yaml');
    const r = await cli('inventory', 'convert', '-i', 'examples/ansible', '-o', out);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`wrote ${out} (6 hosts, cluster my-cluster)`);
    expect((await loadInventory(out)).inventory).toEqual(
      (await loadInventory(join(root, 'examples/ansible'))).inventory,
    );
    expect(await readFile(out, 'utf8')).toContain('roles: [primary-master, etcd]');
  });

  it('refuses to overwrite without --force', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const out = join(tmp, 'twice.yaml');
    await convert({ inventory: join(root, 'examples/ansible'), output: out });
    const err = await convert({ inventory: join(root, 'examples/ansible'), output: out }).catch((e: unknown) => e);
    expect((err as InventoryError).type).toBe(FailureType.InvalidInput);
    expect((err as Error).message).toContain('exists; pass --force');
    await convert({ inventory: join(root, 'examples/ansible'), output: out, force: true });
  });

  it('refuses an invalid seed inventory and writes nothing', async () => {
    const out = join(tmp, 'invalid.yaml');
    const err = await convert({ inventory: join(fixtures, 'ini/group-cycle'), output: out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InventoryError);
    expect((err as Error).message).toContain('group cycle: lab → nodes-extended → lab');
    await expect(readFile(out)).rejects.toThrow(/ENOENT/);
  });

  it('refuses our own YAML as input', async () => {
    const err = await convert({ inventory: join(root, 'examples/inventory.yaml') }).catch((e: unknown) => e);
    expect((err as Error).message).toContain('is kubeadm2ha YAML already');
  });
});
