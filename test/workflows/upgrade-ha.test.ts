// Issue 12's "done when" on the real-Kubernetes lab, on one cluster: 3 masters (external etcd on them, keepalived VIP,
// haproxy) + 2 workers with flannel, set up at the lab's previous version by the setup workflow, upgraded to the
// current one by upgradeCluster running in a `kubeadm2ha worker` process, while:
//  - a Deployment of the lab's hello server (2 replicas on the workers, a PodDisruptionBudget of maxUnavailable 1)
//    answers through a NodePort Service on the VIP, polled from this process all along: every gap is recorded;
//  - the run waits at its approval gate, and nothing on any node changes until it is approved;
//  - `kubeadm upgrade node` fails for real on the second master (its /etc/kubernetes/tmp made a file after its copy
//    was taken): decision rollback (its copy and the previous kubeadm back, kubelet restarted, uncordoned), then retry;
//  - the worker process is SIGKILLed in the worker batches, as the first worker's drain starts; a second process takes
//    the run over and no activity the server had recorded as completed runs again;
//  - a singleton with a budget of minAvailable 1 blocks the second worker's drain: decision retry evict-anyway.
// At the end every node runs the target, Ready and schedulable. Prints the gaps, per-node and overall wall time.
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { K8S_LAB_VERSIONS } from '../../lab/k8s-binaries.js';
import { writeFileCommand } from '../../lab/k8s/node.js';
import { EVICT_ANYWAY } from '../../src/plan/drain.js';
import type { Waiting, WaitingDecision } from '../../src/plan/gates.js';
import { readActivityLog, type ActivityLogEntry } from '../../src/worker/activity-log.js';
import { approveUpdate, decideUpdate, progressQuery } from '../../src/workflows/messages.js';
import type { UpgradeResult } from '../../src/workflows/upgrade.js';
import { temporalAddress, uniqueQueue } from '../e2e/helpers.js';
import { labSuite } from '../support/lab-suite.js';
import { ADMIN } from '../support/k8s-cluster.js';
import { labShell } from '../support/lab-shell.js';
import { pollUntil } from '../support/poll.js';
import { pollService, type ServicePoller } from '../support/service-poller.js';
import { flannelLabInventory, haRoles, runSetupWorkflow } from '../support/setup-run.js';
import { perNode } from '../support/upgrade-run.js';
import { startWorkerProcess, stopProcess } from '../support/worker-process.js';

const FROM = K8S_LAB_VERSIONS.previous;
const TO = K8S_LAB_VERSIONS.current;
/** The longest the Service may go without a successful answer during the whole upgrade. */
const MAX_GAP_MS = 2_000;
const NODES = ['h1', 'h2', 'h3', 'h4', 'h5'];

// The worker processes inherit the suite's environment: the CA store, admin kubeconfig and etcd snapshots live under
// the state dir in its scratch dir.
const suite = labSuite({
  name: 'upgrade-ha',
  lab: { hosts: 5, cni: 'none', version: FROM, versions: [FROM, TO] },
  inventory: (lab) => flannelLabInventory(lab, haRoles),
  cleanUp: [
    () => poller?.stop(),
    async () => {
      for (const w of workers) await stopProcess(w, 'SIGKILL');
    },
  ],
});
let poller: ServicePoller | undefined;
const workers: ChildProcess[] = [];
const sh = (host: string, cmd: string): Promise<string> => labShell(suite.lab)(host, cmd);
const note = (line: string): void => void process.stderr.write(`[upgrade HA] ${line}\n`);
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join('/');

const entries = (log: string): ActivityLogEntry[] =>
  existsSync(log) ? readActivityLog(readFileSync(log, 'utf8')) : [];
const logged = (log: string, type: string, event: ActivityLogEntry['event'], host?: string): ActivityLogEntry[] =>
  entries(log).filter((e) => e.activityType === type && e.event === event && (!host || e.subject === host));

/** The Service under test (2 replicas spread over the workers; a terminating pod keeps serving for 5 s while the
 * endpoints drop it) and a singleton with a budget no eviction can satisfy, preferring h5. */
function workloads(image: string): string {
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata: { name: web, namespace: default }',
    'spec:',
    '  replicas: 2',
    '  selector: { matchLabels: { app: web } }',
    '  template:',
    '    metadata: { labels: { app: web } }',
    '    spec:',
    '      terminationGracePeriodSeconds: 15',
    '      topologySpreadConstraints:',
    '        - { maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: { matchLabels: { app: web } } }',
    '      containers:',
    '        - name: hello',
    `          image: ${image}`,
    '          ports: [{ containerPort: 8080 }]',
    '          readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }',
    '          lifecycle: { preStop: { sleep: { seconds: 5 } } }',
    '---',
    'apiVersion: v1',
    'kind: Service',
    'metadata: { name: web, namespace: default }',
    'spec:',
    '  type: NodePort',
    '  selector: { app: web }',
    '  ports: [{ port: 80, targetPort: 8080 }]',
    '---',
    'apiVersion: policy/v1',
    'kind: PodDisruptionBudget',
    'metadata: { name: web, namespace: default }',
    'spec: { maxUnavailable: 1, selector: { matchLabels: { app: web } } }',
    '---',
    // Host network: it takes none of the node's five pod addresses.
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata: { name: blocker, namespace: default }',
    'spec:',
    '  replicas: 1',
    '  selector: { matchLabels: { app: blocker } }',
    '  template:',
    '    metadata: { labels: { app: blocker } }',
    '    spec:',
    '      hostNetwork: true',
    '      terminationGracePeriodSeconds: 1',
    '      affinity:',
    '        nodeAffinity:',
    '          preferredDuringSchedulingIgnoredDuringExecution:',
    '            - { weight: 100, preference: { matchExpressions: [{ key: kubernetes.io/hostname, operator: In, values: [h5] }] } }',
    '      containers:',
    '        - name: hello',
    `          image: ${image}`,
    '          env: [{ name: PORT, value: "18080" }]',
    '          readinessProbe: { httpGet: { path: /healthz, port: 18080 }, periodSeconds: 1 }',
    '---',
    'apiVersion: policy/v1',
    'kind: PodDisruptionBudget',
    'metadata: { name: blocker, namespace: default }',
    'spec: { minAvailable: 1, selector: { matchLabels: { app: blocker } } }',
    '',
  ].join('\n');
}

/** `name ready-status node` of the pods with `app=<app>`, not terminating. */
async function podsOf(app: string): Promise<{ name: string; ready: boolean; node: string }[]> {
  const out = await sh(
    'h1',
    `${ADMIN} get pods -l app=${app} -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.spec.nodeName} {.metadata.deletionTimestamp}{"\\n"}{end}'`,
  );
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 3)
    .map(([name, ready, node]) => ({ name: name!, ready: ready === 'True', node: node! }));
}

/** What an upgrade would change, read on every node: kubelet (API), kubeadm and kubelet packages, static-pod
 * apiserver image, cordon, our backups. */
async function nodeState(): Promise<string[]> {
  const api = await sh(
    'h1',
    `${ADMIN} get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status} {.spec.unschedulable}{"\\n"}{end}'`,
  );
  const rows = api
    .split('\n')
    .filter(Boolean)
    .map((r) => r.trimEnd())
    .sort();
  for (const n of NODES) {
    const pk = await sh(
      n,
      "dpkg-query -W -f='${Package}=${Version} ' kubeadm kubelet kubectl; " +
        "grep -ho 'kube-apiserver:v[0-9.]*' /etc/kubernetes/manifests/kube-apiserver.yaml 2>/dev/null; " +
        'echo; ls /var/lib/kubeadm2ha/backups 2>/dev/null | wc -l',
    );
    rows.push(`${n}: ${pk.trim().replace(/\n/g, ' | ')}`);
  }
  return rows;
}

const waitingGate = (h: WorkflowHandle, what: string, match: (w: Waiting) => boolean, ms = 1_500_000) =>
  pollUntil(async () => ((await h.query(progressQuery)).waiting ?? []).find(match), what, ms, 1000);

const decisionFor = (h: WorkflowHandle, host: string, step: string, ms?: number): Promise<WaitingDecision> =>
  waitingGate(
    h,
    `${host} waiting for a decision at ${step}`,
    (w) => w.kind === 'decide' && w.host === host && w.step === step,
    ms,
  ) as Promise<WaitingDecision>;

describe('upgradeCluster on 3 masters + 2 workers, with approvals, a rollback, a lost worker and a blocking budget', () => {
  it(`set up at ${FROM}, upgraded to ${TO} while a Service answers; every node Ready at the target`, async () => {
    const t0 = Date.now();
    const setup = await runSetupWorkflow(suite);
    note(`setup at ${FROM} (3 masters + 2 workers, flannel): ${setup.ms} ms, load ${load()}`);

    // --- the Service under test, polled from here through a NodePort on the VIP ---------------------------------
    await sh(
      'h1',
      `${writeFileCommand('/root/workloads.yaml', workloads(`${suite.lab.kubernetes.imageRepository}/hello:1`))} && ${ADMIN} apply -f /root/workloads.yaml >/dev/null`,
    );
    await pollUntil(
      async () => {
        const web = await podsOf('web');
        const blocker = await podsOf('blocker');
        return (
          web.length === 2 &&
          web.every((p) => p.ready) &&
          new Set(web.map((p) => p.node)).size === 2 &&
          blocker.length === 1 &&
          blocker[0]!.ready
        );
      },
      'web Ready on both workers, blocker Ready',
      300_000,
      1000,
    );
    expect((await podsOf('web')).map((p) => p.node).sort()).toEqual(['h4', 'h5']);
    expect((await podsOf('blocker')).map((p) => p.node)).toEqual(['h5']);
    const nodePort = Number(await sh('h1', `${ADMIN} get svc web -o jsonpath='{.spec.ports[0].nodePort}'`));
    poller = pollService({ host: suite.lab.vip, port: nodePort, everyMs: 100 });
    await Promise.race([
      poller.ready,
      pollUntil(() => false, `an answer from web on ${suite.lab.vip}:${nodePort}`, 120_000, 1000),
    ]);

    // --- the upgrade, in a worker process, waiting for approval -------------------------------------------------
    const taskQueue = uniqueQueue('upgrade-ha');
    const logA = join(suite.scratch, 'worker-a.log');
    const logB = join(suite.scratch, 'worker-b.log');
    const a = startWorkerProcess(temporalAddress(), taskQueue, logA, suite.inventoryFile);
    workers.push(a);
    const before = await nodeState();
    const upgradeStart = Date.now();
    const handle = await suite.temporal.client.workflow.start('upgradeCluster', {
      taskQueue,
      workflowId: `${suite.inventory.cluster.name}/upgrade/${taskQueue}`,
      args: [
        {
          inventory: suite.inventory,
          target: TO,
          workerBatch: { count: 1 },
          drainTimeoutSeconds: 60,
          healthTimeoutSeconds: 600,
        },
      ],
    });
    await waitingGate(handle, 'the approval gate', (w) => w.kind === 'approve' && w.phase === 'safety', 600_000);
    // Held: nothing changed on any node, no snapshot taken.
    expect(await nodeState()).toEqual(before);
    expect(before.slice(0, 5)).toEqual(NODES.map((n) => `${n} v${FROM} True`));
    expect(before.filter((r) => r.endsWith(' | 0'))).toHaveLength(5);
    const snapshots = join(suite.scratch, 'state');
    const files = async (): Promise<string[]> =>
      (await readdir(snapshots, { recursive: true })).filter((f) => f.endsWith('.db'));
    expect(await files()).toEqual([]);
    await handle.executeUpdate(approveUpdate, { args: [{ phase: 'safety', by: 'test', reason: 'window open' }] });
    const approvedAt = Date.now();

    // --- the second master: `kubeadm upgrade node` fails for real -------------------------------------------------
    await pollUntil(
      () => logged(logA, 'backupKubernetesConfig', 'complete', 'h2').length > 0,
      'the copy of h2 /etc/kubernetes',
      600_000,
      500,
    );
    expect(logged(logA, 'kubeadmUpgradeNode', 'start', 'h2')).toEqual([]);
    // kubeadm writes the new manifests under /etc/kubernetes/tmp: a file there makes it fail before it changes any.
    await sh('h2', 'rm -rf /etc/kubernetes/tmp && touch /etc/kubernetes/tmp');
    const failedAt = await decisionFor(handle, 'h2', 'kubeadmUpgradeNode');
    note(`h2 kubeadm upgrade node failed: ${failedAt.error}`);
    expect(failedAt).toMatchObject({ phase: 'masters', maySkip: false, mayRollback: true });
    expect(failedAt.error).toMatch(/etc\/kubernetes\/tmp/);
    // The failed node runs the new kubeadm package, nothing else.
    expect(await sh('h2', "dpkg-query -W -f='${Version}' kubeadm")).toBe(suite.lab.kubernetes.packageVersions[TO]);
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'rollback', host: 'h2', by: 'test' }] });
    const rolledBack = await decisionFor(handle, 'h2', 'rollback');
    expect(rolledBack.error).toMatch(/rolled back/);
    // Rolled back: the copy of /etc/kubernetes (no file at tmp), the previous packages, Ready, schedulable.
    expect(await sh('h2', "dpkg-query -W -f='${Version} ' kubeadm kubelet kubectl")).toBe(
      `${suite.lab.kubernetes.packageVersions[FROM]} `.repeat(3),
    );
    expect(await sh('h2', 'test ! -f /etc/kubernetes/tmp && echo ok')).toBe('ok\n');
    expect(await sh('h2', 'ls -d /etc/kubernetes.before-restore-*/tmp | wc -l')).toBe('1\n');
    expect(await sh('h2', "grep -ho 'kube-apiserver:v[0-9.]*' /etc/kubernetes/manifests/kube-apiserver.yaml")).toBe(
      `kube-apiserver:v${FROM}\n`,
    );
    await pollUntil(
      async () =>
        (
          await sh(
            'h1',
            `${ADMIN} get node h2 -o jsonpath='{.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status} {.spec.unschedulable}'`,
          )
        ).trim() === `v${FROM} True`,
      `h2 at v${FROM}, Ready and schedulable after the rollback`,
      300_000,
      1000,
    );
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', host: 'h2', by: 'test' }] });

    // --- the worker process dies in the worker batches ------------------------------------------------------------
    // Killed as h4's drain starts: its `kubeadm upgrade node` is then recorded as completed (the log's 'complete' line
    // alone is written before the server hears of it: a kill right after it may leave the activity to run again).
    await pollUntil(
      () => logged(logA, 'drainNode', 'start', 'h4').length > 0,
      "h4's drain started by worker A",
      1_800_000,
      100,
    );
    await stopProcess(a, 'SIGKILL');
    const killedAt = Date.now();
    note(`worker A SIGKILLed as h4's drain started, ${Math.round((killedAt - approvedAt) / 1000)} s after approval`);
    const b = startWorkerProcess(temporalAddress(), taskQueue, logB, suite.inventoryFile);
    workers.push(b);

    // --- the singleton's budget blocks h5's drain -----------------------------------------------------------------
    const blocked = await decisionFor(handle, 'h5', 'drainNode');
    note(`h5 drain blocked: ${blocked.error}`);
    expect(blocked).toMatchObject({ phase: 'workers', maySkip: true });
    expect(blocked.error).toMatch(/^drain of h5 blocked by PodDisruptionBudget default\/blocker \(minAvailable 1/);
    expect(blocked.options?.map((o) => o.name)).toContain(EVICT_ANYWAY);
    expect((await sh('h1', `${ADMIN} get node h5 -o jsonpath='{.spec.unschedulable}'`)).trim()).toBe('');
    await handle.executeUpdate(decideUpdate, {
      args: [{ action: 'retry', option: EVICT_ANYWAY, host: 'h5', by: 'test', reason: 'singleton may move' }],
    });

    const result = (await handle.result()) as UpgradeResult;
    const overall = Date.now() - upgradeStart;
    const service = await poller.stop();
    poller = undefined;
    await stopProcess(b, 'SIGTERM');

    // --- the numbers ---------------------------------------------------------------------------------------------
    note(
      `${FROM} → ${TO}: ${overall} ms from start (${Date.now() - approvedAt} ms from approval), load ${load()}; ` +
        `per node (incl. decisions) ${JSON.stringify(perNode(result))}; worker B finished ${Math.round((Date.now() - killedAt) / 1000)} s after A died`,
    );
    note(
      `Service ${suite.lab.vip}:${nodePort}: ${service.requests} requests, ${service.ok} ok, ${service.failed} failed over ${service.ms} ms; ` +
        `max gap ${service.maxGapMs} ms; gaps > 1 s ${JSON.stringify(service.gaps)}; answered by ${JSON.stringify(service.answeredBy)}; ` +
        `errors ${JSON.stringify(service.errors)}`,
    );
    note(`test ${Date.now() - t0} ms`);

    // --- the end state ------------------------------------------------------------------------------------------
    expect(result.skipped).toEqual([]);
    expect(result.after).toEqual(
      NODES.map((name) => ({
        name,
        kubelet: TO,
        kubeadm: TO,
        ready: true,
        cordoned: false,
        ...(['h1', 'h2', 'h3'].includes(name) && { apiserver: TO }),
      })),
    );
    expect(await sh('h1', `${ADMIN} get nodes -o jsonpath='{.items[*].status.nodeInfo.kubeletVersion}'`)).toBe(
      NODES.map(() => `v${TO}`).join(' '),
    );
    expect(await sh('h1', `${ADMIN} get nodes -o jsonpath='{.items[*].spec.unschedulable}'`)).toBe('');
    expect(result.gates.map((g) => [g.kind, g.action ?? '', g.host ?? '', g.option ?? ''])).toEqual([
      ['approve', '', '', ''],
      ['decide', 'rollback', 'h2', ''],
      ['decide', 'retry', 'h2', ''],
      ['decide', 'retry', 'h5', EVICT_ANYWAY],
    ]);
    expect(result.rolledBack).toEqual(['h2']);
    expect(result.steps.filter((s) => s.step === 'kubeadmUpgradeApply').map((s) => s.host)).toEqual(['h1']);
    expect(result.steps.filter((s) => s.step === 'kubeadmUpgradeNode').map((s) => s.host)).toEqual([
      'h2',
      'h3',
      'h4',
      'h5',
    ]);

    // --- no node upgraded twice: no activity completed by worker A ran again on B ----------------------------------
    // Completed by A as the server recorded it (the completion event carries the worker's identity, pid@host).
    const events = (await handle.fetchHistory()).events ?? [];
    const activityIdOf = new Map(
      events.flatMap((e) =>
        e.activityTaskScheduledEventAttributes
          ? [[String(e.eventId), e.activityTaskScheduledEventAttributes.activityId]]
          : [],
      ),
    );
    const doneByA = new Set(
      events
        .filter((e) => e.activityTaskCompletedEventAttributes?.identity?.startsWith(`${a.pid}@`))
        .map((e) => activityIdOf.get(String(e.activityTaskCompletedEventAttributes!.scheduledEventId))),
    );
    expect(doneByA.size).toBeGreaterThan(20);
    expect(entries(logB).filter((e) => e.event === 'start' && doneByA.has(e.activityId))).toEqual([]);
    const upgradesB = ['kubeadmUpgradeApply', 'kubeadmUpgradeNode'].flatMap((t) => logged(logB, t, 'start'));
    expect(upgradesB.map((e) => e.subject)).toEqual(['h5']);
    for (const host of NODES) {
      const type = host === 'h1' ? 'kubeadmUpgradeApply' : 'kubeadmUpgradeNode';
      expect([...logged(logA, type, 'complete', host), ...logged(logB, type, 'complete', host)]).toHaveLength(1);
    }

    // --- the Service answered throughout ---------------------------------------------------------------------------
    expect(service.ok).toBeGreaterThan(100);
    expect(service.maxGapMs).toBeLessThanOrEqual(MAX_GAP_MS);
  }, 3_600_000);
});
