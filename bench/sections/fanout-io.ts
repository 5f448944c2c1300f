// Bench section: fan-out of a host-parallel runbook phase (the executor setup and upgrade run) whose per-host work is
// spent on the hosts, not on this machine. In production each host does its own work (apt, kubeadm, a restart) on its
// own CPU while the worker waits; in the lab all hosts share this machine's 2 cores, so the SSH fan-out (section
// fan-out) measures those cores as much as orchestration. Here each step is a stand-in activity (fake, named so) that
// waits STEP_MS, as a worker waits on a remote command: what grows from 3 hosts to 30 is then what orchestration
// adds (scheduling, dispatch, history, the workflow tasks that follow each completion), measured on the real
// executor (runRunbook, as bundled for test/workflows/runbook.test.ts) and the run's dev server.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import type { SshSettings } from '../../src/inventory/schema.js';
import type { ActivityName, Runbook, Step } from '../../src/plan/runbook.js';
import { dataConverter, failureConverterPath } from '../../src/temporal/data-converter.js';
import { WORKFLOW_TASK_TIMEOUT } from '../../src/temporal/workflow-start.js';
import { withCpu } from '../cpu.js';
import { median, ms, ratio, type Section } from '../table.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STEPS = 3;
const STEP_MS = 500;

const step: Step = {
  id: 'fakeStep' as ActivityName,
  title: `fake host step (waits ${STEP_MS} ms)`,
  class: 'hostStep',
  args: { name: 'wait' },
};

function runbook(hosts: number): Runbook {
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
          target: { name: `h${i + 1}`, address: `192.0.2.${i + 1}`, roles: ['worker'] },
          steps: Array.from({ length: STEPS }, () => step),
          maySkip: false,
        })),
      },
    ],
  };
}

export const fanoutIoSection: Section = {
  name: 'fan-out, host-bound steps',
  hosts: 0,
  explain: [
    'The issue\'s "host-parallel phase at 30 hosts within 1.5x of 3 hosts", where the per-host work is spent on ' +
      "the hosts (as apt, kubeadm or a restart is in production) and not on this machine's 2 cores: the real " +
      'runbook executor (`runRunbook`, the one setup and upgrade use; the test bundle ' +
      '`test/workflows/fixtures/runbook-workflow.ts`) runs one `hosts` phase, rollout parallel, ' +
      `${STEPS} steps per host; each step is a stand-in activity (fake, named so) that waits ${STEP_MS} ms like a ` +
      'worker waiting on a remote command. No SSH: the wall time above ' +
      `${STEPS * STEP_MS} ms is orchestration only (scheduling, dispatch, history writes, the workflow tasks after ` +
      "each completion), at 3 and at 30 hosts, on the run's dev server, one warm worker. The kernel here has no " +
      'sch_netem, so a real SSH step with a simulated datacenter RTT was not possible.',
  ],
  async run(ctx) {
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: join(import.meta.dirname, '..', '..', 'test', 'workflows', 'fixtures', 'runbook-workflow.ts'),
      failureConverterPath: failureConverterPath(),
      logger: new DefaultLogger('WARN'),
    });
    const connection = await Connection.connect({ address: ctx.devAddress });
    const native = await NativeConnection.connect({ address: ctx.devAddress });
    const client = new Client({ connection, dataConverter: dataConverter() });
    const taskQueue = `bench-fanout-io-${process.pid}`;
    const worker = await Worker.create({
      connection: native,
      taskQueue,
      workflowBundle,
      dataConverter: dataConverter({ role: 'worker' }),
      // Stand-in: the host's work, as the worker sees it (waiting).
      activities: { fakeStep: () => sleep(STEP_MS).then(() => ({})) },
    });
    let n = 0;
    const times = { 3: [] as number[], 30: [] as number[] };
    const cpu = { 3: [] as number[], 30: [] as number[] };
    const phase = async (hosts: 3 | 30) => {
      const t0 = performance.now();
      const r = await withCpu(ctx.devPid, () =>
        client.workflow.execute('runTestRunbook', {
          taskQueue,
          workflowId: `${taskQueue}-${n++}`,
          args: [runbook(hosts)],
          workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
        }),
      );
      times[hosts].push(performance.now() - t0);
      cpu[hosts].push(r.self + r.server);
    };
    try {
      await worker.runUntil(async () => {
        await phase(3); // warm
        for (let i = 0; i < ROUNDS; i++) {
          await phase(3);
          await phase(30);
          ctx.log(`  round ${i + 1}: 3 hosts ${ms(times[3][i + 1]!)}, 30 hosts ${ms(times[30][i]!)}`);
        }
      });
    } finally {
      await native.close();
      await connection.close();
    }
    times[3].shift();
    cpu[3].shift();
    const ideal = STEPS * STEP_MS;
    const [t3, t30] = [median(times[3]), median(times[30])];
    return [
      {
        metric: `host-parallel phase, ${STEPS} host-bound steps per host: 3 hosts; 30 hosts`,
        value: `${ms(t3)}; ${ms(t30)}`,
        note: `each step a stand-in activity waiting ${STEP_MS} ms (the host's work), so ${ms(ideal)} is the floor at any width`,
      },
      {
        metric: 'fan-out 30 vs 3 hosts, host-bound steps',
        value: ratio(t30 / t3),
        note: `target <= 1.5x; orchestration over the floor: ${ms(t3 - ideal)} at 3 hosts, ${ms(t30 - ideal)} at 30; CPU (worker + server) ${ms(median(cpu[3]))}; ${ms(median(cpu[30]))}`,
      },
    ];
  },
};
