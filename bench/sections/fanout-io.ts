// Bench section: fan-out of a host-parallel runbook phase (the executor setup and upgrade run) whose per-host work is
// spent on the hosts, not on this machine. In production each host does its own work (apt, kubeadm, a restart) on its
// own CPU while the worker waits; in the lab all hosts share this machine's 2 cores, so the SSH fan-out (section
// fan-out) measures those cores as much as orchestration. Here each step waits STEP_MS on the host: what grows from
// 3 hosts to 30 is then what orchestration adds (scheduling, dispatch, history, the workflow tasks that follow each
// completion), measured on the real executor (runRunbook, as bundled for test/workflows/runbook.test.ts) and the
// run's dev server. Two variants: a stand-in activity that only waits (fake, named so: no SSH at all), and a real
// step over SSH (`sleep` run by the lab host's sshd on a pooled connection, as every host step runs its command).
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import type { Inventory, SshSettings } from '../../src/inventory/schema.js';
import { targetOf } from '../../src/plan/topology.js';
import type { HostTarget } from '../../src/plan/types.js';
import { SshPool } from '../../src/ssh/index.js';
import type { ActivityName, Runbook, Step } from '../../src/plan/runbook.js';
import { dataConverter, failureConverterPath } from '../../src/temporal/data-converter.js';
import { WORKFLOW_TASK_TIMEOUT } from '../../src/temporal/workflow-start.js';
import { withCpu } from '../cpu.js';
import { median, ms, ratio, type Section } from '../table.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STEPS = 3;
const STEP_MS = 500;

const fakeStep: Step = {
  id: 'fakeStep' as ActivityName,
  title: `fake host step (waits ${STEP_MS} ms)`,
  class: 'hostStep',
  args: { name: 'wait' },
};

const sshStep: Step = {
  id: 'hostWait' as ActivityName,
  title: `sleep ${STEP_MS} ms on the host, over SSH`,
  class: 'hostStep',
  args: {},
};

/** The phase: `hosts` hosts at once, STEPS steps each; real lab hosts' targets when given, else made-up ones. */
function runbook(hosts: number, step: Step, targets?: HostTarget[]): Runbook {
  return {
    operation: 'bench',
    title: 'bench fan-out',
    cluster: 'bench',
    kubernetesVersion: '1.34.1',
    ssh: { maxConcurrency: 50 } as SshSettings,
    onFailure: 'abort',
    phases: [
      {
        id: 'hosts',
        title: 'every host at once',
        kind: 'hosts',
        rollout: { kind: 'parallel' },
        hosts: Array.from({ length: hosts }, (_, i) => ({
          target: targets?.[i] ?? { name: `h${i + 1}`, address: `192.0.2.${i + 1}`, roles: ['worker'] },
          steps: Array.from({ length: STEPS }, () => step),
          maySkip: false,
        })),
      },
    ],
  };
}

type Width = 3 | 30;

export const fanoutIoSection: Section = {
  name: 'fan-out, host-bound steps',
  hosts: 30,
  explain: [
    'The issue\'s "host-parallel phase at 30 hosts within 1.5x of 3 hosts", where the per-host work is spent on ' +
      "the hosts (as apt, kubeadm or a restart is in production) and not on this machine's 2 cores: the real " +
      'runbook executor (`runRunbook`, the one setup and upgrade use; the test bundle ' +
      '`test/workflows/fixtures/runbook-workflow.ts`) runs one `hosts` phase, rollout parallel, ' +
      `${STEPS} steps per host, at 3 and at 30 hosts, on the run's dev server, one warm worker. Two variants: ` +
      `*stand-in*, each step an activity (fake, named so) that waits ${STEP_MS} ms with no SSH, so the wall time ` +
      `above ${STEPS * STEP_MS} ms is orchestration only (scheduling, dispatch, history writes, the workflow tasks ` +
      `after each completion); *over SSH*, each step runs \`sleep ${STEP_MS / 1000}\` on the real lab host over ` +
      "the worker's pooled SSH connection (a channel, sshd's session, a shell), the way every host step runs its " +
      'command. The kernel here has no sch_netem, so the lab adds no datacenter RTT.',
  ],
  async run(ctx) {
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: join(import.meta.dirname, '..', '..', 'test', 'workflows', 'fixtures', 'runbook-workflow.ts'),
      failureConverterPath: failureConverterPath(),
      logger: new DefaultLogger('WARN'),
    });
    const lab: Inventory = await ctx.inventory(30);
    const targets: HostTarget[] = lab.hosts.map(targetOf);
    const pool = new SshPool(lab.ssh);
    const connection = await Connection.connect({ address: ctx.devAddress });
    const native = await NativeConnection.connect({ address: ctx.devAddress });
    const client = new Client({ connection, dataConverter: dataConverter() });
    const taskQueue = `bench-fanout-io-${process.pid}`;
    const worker = await Worker.create({
      connection: native,
      taskQueue,
      workflowBundle,
      dataConverter: dataConverter({ role: 'worker' }),
      activities: {
        // Stand-in: the host's work, as the worker sees it (waiting).
        fakeStep: () => sleep(STEP_MS).then(() => ({})),
        // Real: the host waits, reached as every host step reaches it (a pooled connection, a channel, a shell).
        hostWait: async (a: { host: { target: HostTarget } }) => {
          await pool.session(a.host.target).run({ script: `sleep ${STEP_MS / 1000}` });
          return {};
        },
      },
    });
    let n = 0;
    const variants = {
      'stand-in': { step: fakeStep, targets: undefined },
      'over SSH': { step: sshStep, targets },
    } as const;
    type Variant = keyof typeof variants;
    // Per variant and width, each measured run's wall and CPU (worker + server) time.
    const samples = new Map<string, { ms: number[]; cpu: number[] }>();
    const of = (v: Variant, hosts: Width) => samples.get(`${v}/${hosts}`) ?? { ms: [], cpu: [] };
    /** One run of the phase; recorded unless it only warms up. */
    const phase = async (v: Variant, hosts: Width, warm = false) => {
      const t0 = performance.now();
      const r = await withCpu(ctx.devPid, () =>
        client.workflow.execute('runTestRunbook', {
          taskQueue,
          workflowId: `${taskQueue}-${n++}`,
          args: [runbook(hosts, variants[v].step, variants[v].targets)],
          workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
        }),
      );
      const wall = performance.now() - t0;
      if (warm) return;
      const s = of(v, hosts);
      s.ms.push(wall);
      s.cpu.push(r.self + r.server);
      samples.set(`${v}/${hosts}`, s);
    };
    try {
      await worker.runUntil(async () => {
        // Warm: the workflow cache, and every lab host's connection up (as in production, connections stay up).
        await phase('stand-in', 3, true);
        await phase('over SSH', 30, true);
        for (let i = 0; i < ROUNDS; i++) {
          for (const v of Object.keys(variants) as Variant[]) {
            await phase(v, 3);
            await phase(v, 30);
            ctx.log(`  round ${i + 1}, ${v}: 3 hosts ${ms(of(v, 3).ms.at(-1)!)}, 30 hosts ${ms(of(v, 30).ms.at(-1)!)}`);
          }
        }
      });
    } finally {
      await pool.closeAll();
      await native.close();
      await connection.close();
    }
    const ideal = STEPS * STEP_MS;
    return (Object.keys(variants) as Variant[]).flatMap((v) => {
      const [t3, t30] = [median(of(v, 3).ms), median(of(v, 30).ms)];
      return [
        {
          metric: `host-parallel phase, ${STEPS} host-bound steps per host, ${v}: 3 hosts; 30 hosts`,
          value: `${ms(t3)}; ${ms(t30)}`,
          note:
            v === 'stand-in'
              ? `each step a stand-in activity waiting ${STEP_MS} ms (the host's work), so ${ms(ideal)} is the floor at any width`
              : `each step \`sleep ${STEP_MS / 1000}\` on the lab host over SSH; ${ms(ideal)} is the floor at any width`,
        },
        {
          metric: `fan-out 30 vs 3 hosts, host-bound steps, ${v}`,
          value: ratio(t30 / t3),
          note: `target <= 1.5x; over the floor: ${ms(t3 - ideal)} at 3 hosts, ${ms(t30 - ideal)} at 30; CPU (worker + server) ${ms(median(of(v, 3).cpu))}; ${ms(median(of(v, 30).cpu))}`,
        },
      ];
    });
  },
};
