// `kubeadm2ha uninstall` asks before it destroys and `kubeadm2ha kubeconfig` writes a private file, as a user runs
// them (the real bin script, a real pseudo-terminal from script(1)). Nothing here contacts a host or Temporal: the
// refusals happen before, and the lab test (test/workflows/uninstall.test.ts) covers the runs themselves.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LocalPkiStore } from '../../src/activities/pki-store.js';
import { Inventory } from '../../src/inventory/schema.js';
import { planClusterCas } from '../../src/plan/pki.js';
import { setEnv } from '../support/env.js';
import { bin, cli } from './cli-process.js';

const inventory = join(import.meta.dirname, '..', 'fixtures', 'inventory', 'yaml', 'valid.yaml');
let scratch: string;
let env: Record<string, string>;
let restoreEnv: (() => void) | undefined;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'k2h-cli-uninstall-'));
  // Nothing may reach a Temporal server: an address where none listens makes any attempt fail loudly.
  env = { KUBEADM2HA_STATE_DIR: join(scratch, 'state'), TEMPORAL_ADDRESS: '127.0.0.1:1' };
  restoreEnv = setEnv({ KUBEADM2HA_STATE_DIR: env.KUBEADM2HA_STATE_DIR! });
});
afterAll(async () => {
  restoreEnv?.();
  await rm(scratch, { recursive: true, force: true });
});

const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/** The CLI on a pseudo-terminal (script(1)), `input` typed into it. */
async function onTerminal(args: string[], input: string): Promise<{ code: number; out: string }> {
  const typed = join(scratch, 'typed');
  await writeFile(typed, input);
  const cmd = [process.execPath, bin, ...args].map(q).join(' ');
  try {
    const { stdout } = await promisify(execFile)('sh', ['-c', `script -qec ${q(cmd)} /dev/null < ${q(typed)}`], {
      env: { ...process.env, ...env, KUBEADM2HA_FROM_SOURCE: '1' },
      timeout: 60_000,
    });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: Number(e.code ?? 1), out: e.stdout ?? '' };
  }
}

describe('kubeadm2ha uninstall: confirmation', () => {
  it('refuses without a terminal and without --yes, before contacting anything', async () => {
    const r = await cli(['uninstall', '-i', inventory], 60_000, env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no terminal to ask on: pass --yes/);
    expect(r.stderr).not.toMatch(/bug|127\.0\.0\.1:1/);
  });

  it('--dry-run needs no confirmation and prints the runbook', async () => {
    const r = await cli(['uninstall', '-i', inventory, '--dry-run'], 60_000, env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/cluster uninstall of lab/);
    expect(r.stdout).toMatch(/workers: kubeadm reset \[reset-workers\]/);
    expect(r.stdout).toMatch(/h4 \(10\.200\.0\.14\): resetNode/);
  });

  it('on a terminal: a wrong cluster name leaves the cluster as it is', async () => {
    const r = await onTerminal(['uninstall', '-i', inventory], 'not-lab\n');
    expect(r.out).toMatch(/Type the cluster name \(lab\) to go on/);
    expect(r.out).toMatch(/not confirmed: cluster lab left as it is/);
    expect(r.code).toBe(2);
  });
});

describe('kubeadm2ha kubeconfig', () => {
  const out = () => join(scratch, 'lab.kubeconfig');

  it('refuses without the cluster CA in the local store', async () => {
    const r = await cli(['kubeconfig', '-i', inventory, '-o', out()], 60_000, env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no cluster CA of lab in the local store/);
  });

  it('writes a 0600 kubeconfig for the VIP, signed by the stored CA, for the asked validity; never overwrites without --force', async () => {
    const inv = Inventory.parse(parse(await readFile(inventory, 'utf8')));
    const caPlan = planClusterCas(inv).cas.find((c) => c.name === 'ca')!;
    const { ca } = await LocalPkiStore.forCluster('lab').ensureCa(caPlan);
    const t0 = Date.now();
    const r = await cli(
      [
        'kubeconfig',
        '-i',
        inventory,
        '--user',
        'alice',
        '--groups',
        'ops,kubeadm:cluster-admins',
        '--validity',
        '90m',
        '-o',
        out(),
      ],
      60_000,
      env,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((await stat(out())).mode & 0o777).toBe(0o600);
    const kc = parse(await readFile(out(), 'utf8')) as {
      clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
      users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
    };
    expect(kc.clusters[0]!.cluster.server).toBe('https://10.200.0.100:8443');
    expect(Buffer.from(kc.clusters[0]!.cluster['certificate-authority-data'], 'base64').toString()).toBe(ca.certPem);
    const cert = new X509Certificate(Buffer.from(kc.users[0]!.user['client-certificate-data'], 'base64'));
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.subject.split('\n').sort()).toEqual(['CN=alice', 'O=kubeadm:cluster-admins', 'O=ops']);
    const life = Date.parse(cert.validTo) - t0;
    expect(life).toBeGreaterThan(89 * 60_000);
    expect(life).toBeLessThan(91 * 60_000);

    const again = await cli(['kubeconfig', '-i', inventory, '--user', 'bob', '-o', out()], 60_000, env);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists; pass --force/);
    expect(await readFile(out(), 'utf8')).toContain('alice');
    const forced = await cli(['kubeconfig', '-i', inventory, '--user', 'bob', '-o', out(), '--force'], 60_000, env);
    expect(forced.code).toBe(0);
    expect(await readFile(out(), 'utf8')).toContain('bob');
    expect((await stat(out())).mode & 0o777).toBe(0o600);

    const bad = await cli(
      ['kubeconfig', '-i', inventory, '--validity', '1 hour', '-o', join(scratch, 'x')],
      60_000,
      env,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--validity must be/);
  });
});
