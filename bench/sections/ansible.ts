// Bench section: the preflight command sequence (about a dozen read-only probes per host) on 20 lab hosts, run by
// our workflow (real Temporal dev server, real worker, ssh2) and by ansible-playbook -f 20 (Debian's ansible-core,
// pipelining on, fact gathering off: its fastest honest setup) on the same hosts in the same run, and the ssh2-only
// floor (the same probes in the workflow's order, no Temporal). Both sides start each round cold (new SSH connections) and then reuse them
// as they do by default: our pool keeps one connection per host; Ansible its ControlMaster/ControlPersist sockets,
// in a fresh control_path_dir per round.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { probes } from '../../src/activities/preflight-checks.js';
import { ProbeBatcher } from '../../src/activities/preflight-batch.js';
import type { Inventory } from '../../src/inventory/schema.js';
import type { Lab } from '../../lab/index.js';
import { planPreflight } from '../../src/plan/preflight.js';
import type { PreflightReport } from '../../src/plan/types.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { SshPool } from '../../src/ssh/index.js';
import { createKubeadmHaWorker } from '../../src/worker.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { installRedactingLogger } from '../../src/worker/runtime-logging.js';
import { median, ms, ratio, type Section } from '../table.js';

const run = promisify(execFile);
const HOSTS = Number(process.env.BENCH_HOSTS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/**
 * The floor: the same probe scripts over ssh2 with no Temporal at all, hosts in parallel and each host's probes in
 * the workflow's order (`warm`: on connections already open). What is left between this and `ours` is the price of durability: every
 * check recorded as an activity in history.
 */
export async function floor(inv: Inventory, warm?: SshPool): Promise<number> {
  const pool = warm ?? new SshPool(inv.ssh);
  const batcher = new ProbeBatcher();
  const t0 = performance.now();
  await Promise.all(
    planPreflight(inv).hosts.map(async (h) => {
      const session = pool.session({ name: h.target.name, address: h.target.address });
      // The activity's transport: probes that start together share one shell, the clock probe runs alone.
      const probe = (step: (typeof h.steps)[number]) =>
        step.id === 'clock'
          ? session.run({ script: probes[step.id].script(step) }, { allowNonZero: true })
          : batcher.run(h.target.name, session, probes[step.id].script(step), { allowNonZero: true });
      // The workflow's order: the first probe alone (it opens the connection), then the rest at once.
      const [first, ...rest] = h.steps;
      if (first) await probe(first);
      await Promise.all(rest.map(probe));
    }),
  );
  const ms = performance.now() - t0;
  if (!warm) await pool.closeAll();
  return ms;
}

async function ours(inv: Inventory, address: string, round: number): Promise<number> {
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, dataConverter: dataConverter() });
  installRedactingLogger();
  const native = await NativeConnection.connect({ address });
  const taskQueue = `bench-${process.pid}-${round}`;
  const w = await createKubeadmHaWorker({ connection: native, taskQueue, sshTrust: sshTrustOf(inv) });
  const t0 = performance.now();
  const report = (await w.run(
    client.workflow.execute('preflightCluster', {
      taskQueue,
      workflowId: `bench/${taskQueue}`,
      args: [{ inventory: inv }],
    }),
  )) as PreflightReport;
  const ms = performance.now() - t0; // w.run also closed the SSH pool: the next round starts cold again
  await native.close();
  await connection.close();
  if (report.summary.fail)
    throw new Error(
      `our preflight failed checks: ${JSON.stringify(report.results.filter((r) => r.status === 'fail'))}`,
    );
  return ms;
}

/** The same probes, as one `shell` task per check, each limited to the hosts our plan runs it on. */
async function writeAnsible(lab: Lab, inv: Inventory, dir: string): Promise<string> {
  const plan = planPreflight(inv);
  const lines = ['[all]'];
  for (const h of inv.hosts) lines.push(`${h.name} ansible_host=${h.address}`);
  lines.push(
    '[all:vars]',
    'ansible_user=root',
    `ansible_ssh_private_key_file=${lab.privateKeyPath}`,
    `ansible_ssh_common_args=-o UserKnownHostsFile=${lab.knownHostsPath} -o StrictHostKeyChecking=yes`,
    'ansible_python_interpreter=/usr/bin/python3',
  );
  await writeFile(join(dir, 'inventory.ini'), lines.join('\n') + '\n');
  const firstHost = plan.hosts[0]!;
  const tasks: string[] = [];
  const allChecks = [...new Map(plan.hosts.flatMap((h) => h.steps.map((s) => [s.id, s]))).values()];
  for (const check of allChecks) {
    const onHosts = plan.hosts.filter((h) => h.steps.some((s) => s.id === check.id)).map((h) => h.target.name);
    const spec = firstHost.steps.find((s) => s.id === check.id) ?? check;
    tasks.push(
      `    - name: ${check.id}`,
      `      shell: ${JSON.stringify(probes[check.id].script(spec))}`,
      `      changed_when: false`,
      `      when: inventory_hostname in ${JSON.stringify(onHosts)}`,
    );
  }
  await writeFile(
    join(dir, 'preflight.yml'),
    ['- hosts: all', '  gather_facts: false', '  tasks:', ...tasks].join('\n') + '\n',
  );
  await writeFile(
    join(dir, 'ansible.cfg'),
    [
      '[defaults]',
      'forks = 20',
      'gathering = explicit',
      `local_tmp = ${dir}/tmp`,
      'stdout_callback = dense',
      '[ssh_connection]',
      'pipelining = True',
      'ssh_args = -o ControlMaster=auto -o ControlPersist=60s',
    ].join('\n') + '\n',
  );
  return dir;
}

async function ansible(dir: string, round: number): Promise<number> {
  const t0 = performance.now();
  await run('ansible-playbook', ['-f', String(HOSTS), '-i', 'inventory.ini', 'preflight.yml'], {
    cwd: dir,
    env: {
      ...process.env,
      ANSIBLE_CONFIG: join(dir, 'ansible.cfg'),
      ANSIBLE_HOME: join(dir, 'home'),
      ANSIBLE_SSH_CONTROL_PATH_DIR: join(dir, `cp-${round}`),
    },
    maxBuffer: 64 << 20,
  });
  return performance.now() - t0;
}

export const ansibleSection: Section = {
  name: 'preflight vs Ansible',
  hosts: HOSTS,
  async run(ctx) {
    const inv = await ctx.inventory(HOSTS);
    const dir = join(ctx.lab.dir, 'ansible');
    await mkdir(dir, { recursive: true });
    await writeAnsible(ctx.lab, inv, dir);
    const perHost = planPreflight(inv).hosts.map((h) => h.steps.length);
    const a: number[] = [];
    const o: number[] = [];
    const f: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      o.push(await ours(inv, ctx.devAddress, i));
      a.push(await ansible(dir, i));
      f.push(await floor(inv));
      ctx.log(`  round ${i + 1}: kubeadm2ha ${ms(o[i]!)}, ansible ${ms(a[i]!)}, ssh2-only floor ${ms(f[i]!)}`);
    }
    const [mo, ma, mf] = [median(o), median(a), median(f)];
    const what = `${HOSTS} hosts, ${Math.min(...perHost)}-${Math.max(...perHost)} probes each, median of ${ROUNDS}`;
    return [
      { metric: `preflight, kubeadm2ha workflow`, value: ms(mo), note: what },
      {
        metric: `preflight, ansible-playbook -f ${HOSTS}`,
        value: ms(ma),
        note: 'pipelining, no facts, ControlPersist',
      },
      { metric: 'orchestration vs Ansible', value: ratio(ma / mo), note: 'target >= 20x' },
      {
        metric: 'ssh2-only floor (same probes, no Temporal)',
        value: ms(mf),
        note: `Ansible/floor ${ratio(ma / mf)}; durability costs ${ms(mo - mf)}`,
      },
    ];
  },
};
