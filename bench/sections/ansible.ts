// Benchmark: the preflight command sequence (about a dozen read-only probes per host) on 20 lab hosts, run by our
// workflow (real Temporal dev server, real worker, ssh2) and by ansible-playbook -f 20 (Debian's ansible-core,
// pipelining on, fact gathering off: its fastest honest setup) on the same hosts in the same process run.
// Prints both wall times and the ratio. Both sides start each round cold (new SSH connections) and then reuse them
// as they do by default: our pool keeps one connection per host; Ansible its ControlMaster/ControlPersist sockets,
// in a fresh control_path_dir per round.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { probes } from '../src/activities/preflight-checks.js';
import { loadInventory } from '../src/inventory/index.js';
import type { Inventory } from '../src/inventory/schema.js';
import { createLab, type Lab } from '../lab/index.js';
import { planPreflight } from '../src/plan/preflight.js';
import type { PreflightReport } from '../src/plan/types.js';
import { dataConverter } from '../src/temporal/data-converter.js';
import { startDevServer, stopDevServer } from '../src/temporal/dev-server.js';
import { freePort } from '../src/temporal/process-util.js';
import { SshPool } from '../src/ssh/index.js';
import { createKubeadmHaWorker } from '../src/worker.js';
import { sshTrustOf } from '../src/activities/ssh-trust.js';
import { installRedactingLogger } from '../src/worker/runtime-logging.js';

const run = promisify(execFile);
const HOSTS = Number(process.env.BENCH_HOSTS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/**
 * The floor: the same probe scripts over ssh2 with no Temporal at all (hosts in parallel, each host's probes in
 * order, as the workflow runs them). What is left between this and `ours` is the price of durability: every
 * check recorded as an activity in history.
 */
async function floor(inv: Inventory): Promise<number> {
  const pool = new SshPool(inv.ssh);
  const t0 = performance.now();
  await Promise.all(
    planPreflight(inv).hosts.map(async (h) => {
      const session = pool.session({ name: h.target.name, address: h.target.address });
      for (const step of h.steps) await session.run({ script: probes[step.id].script(step) }, { allowNonZero: true });
    }),
  );
  const ms = performance.now() - t0;
  await pool.closeAll();
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
  for (const h of lab.hosts) lines.push(`${h.name} ansible_host=${h.address}`);
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

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const lab = await createLab({ hosts: HOSTS });
const server = {
  port: await freePort(),
  headless: true,
  dbFile: join(lab.dir, 'bench-temporal.db'),
  logLevel: 'error' as const,
};
try {
  const inv = (await loadInventory(await lab.writeInventory())).inventory;
  const info = await startDevServer(server);
  const dir = join(lab.dir, 'ansible');
  await mkdir(dir, { recursive: true });
  await writeAnsible(lab, inv, dir);
  const commandsPerHost = planPreflight(inv).hosts.map((h) => h.steps.length);
  console.log(
    `bench: ${HOSTS} hosts, ${Math.min(...commandsPerHost)}-${Math.max(...commandsPerHost)} probe commands per host, ${ROUNDS} rounds each, alternating`,
  );
  const a: number[] = [];
  const o: number[] = [];
  const f: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    o.push(await ours(inv, info.address, i));
    a.push(await ansible(dir, i));
    f.push(await floor(inv));
    console.log(
      `  round ${i + 1}: kubeadm2ha ${o[i]!.toFixed(0)} ms, ansible ${a[i]!.toFixed(0)} ms, ssh-only floor ${f[i]!.toFixed(0)} ms`,
    );
  }
  const mo = median(o);
  const ma = median(a);
  console.log(`median: kubeadm2ha preflight workflow ${mo.toFixed(0)} ms, ansible-playbook ${ma.toFixed(0)} ms`);
  console.log(`ratio: kubeadm2ha is ${(ma / mo).toFixed(1)}x faster than Ansible (target >= 20x)`);
  const mf = median(f);
  console.log(
    `floor: the probes alone over ssh2, no Temporal, take ${mf.toFixed(0)} ms (Ansible/floor ${(ma / mf).toFixed(1)}x); durability costs ${(mo - mf).toFixed(0)} ms`,
  );
} finally {
  await stopDevServer(server).catch(() => undefined);
  await lab.destroy();
}
