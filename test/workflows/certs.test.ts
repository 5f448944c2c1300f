// checkCertificates and its schedule end to end: real Temporal dev server, real worker, real sshd on lab hosts,
// certificates made by src/pki placed on the hosts' filesystems.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';

import {
  certsScheduleId,
  deleteCertsSchedule,
  describeCertsSchedule,
  ensureCertsSchedule,
} from '../../src/cli/certs-schedule.js';
import { check } from '../../src/cli/commands/certs.js';
import { status } from '../../src/cli/commands/runs.js';
import { Inventory } from '../../src/inventory/schema.js';
import { createLab, type Lab } from '../../lab/index.js';
import type { EtcdRenewalReport, RenewEtcdInput } from '../../src/plan/cert-renewal.js';
import { CERTS_MEMO_MIN_DAYS_LEFT, type CertReport, type CertsInput } from '../../src/plan/certs.js';
import { createCa, issueCertificate, type CertificateAndKey } from '../../src/pki/index.js';
import { etcdHostSans } from '../../src/plan/pki.js';
import { quote } from '../../src/ssh/quote.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { ClusterName, Operation } from '../../src/temporal/search-attributes.js';
import { createKubeadmHaWorker } from '../../src/worker.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { connectTemporal, pollUntil, temporalAddress, uniqueQueue } from '../e2e/helpers.js';
import { operatorEtcdctl, writeOperatorClient } from '../support/etcdctl.js';
import { recordHistoryIfAsked } from '../support/record-history.js';

const DAY = 24 * 60 * 60 * 1000;
const b64 = (s: string): string => Buffer.from(s).toString('base64');

let lab: Lab;
let inventory: Inventory;
let scratch: string;
const previousStateDir = process.env.KUBEADM2HA_STATE_DIR;
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let taskQueue: string;
let stopWorker: () => void;
let workerDone: Promise<unknown>;
const keys: string[] = [];

async function put(host: string, path: string, content: string): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf('/'));
  await lab.exec(host, `mkdir -p ${quote(dir)} && printf %s ${quote(b64(content))} | base64 -d > ${quote(path)}`);
}

async function putPair(host: string, base: string, pair: CertificateAndKey): Promise<void> {
  keys.push(pair.keyPem);
  await put(host, `${base}.crt`, pair.certPem);
  await put(host, `${base}.key`, pair.keyPem);
}

/** Every payload of a workflow's history, decrypted with the worker's codec: what Temporal holds about the run,
 * as anyone with the keyring would read it. */
async function historyText(handle: WorkflowHandle): Promise<string> {
  const history = await handle.fetchHistory();
  const payloads: Payload[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) return;
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      if ('metadata' in v && 'data' in v && (v as Payload).data instanceof Uint8Array) payloads.push(v as Payload);
      else Object.values(v).forEach(walk);
    }
  };
  walk(history.events);
  const codecs = dataConverter()?.payloadCodecs ?? [];
  let decoded = payloads;
  for (const codec of [...codecs].reverse()) decoded = await codec.decode(decoded);
  return decoded.map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('utf8')).join('\n');
}

function expectNoKeys(text: string): void {
  expect(text).not.toMatch(/PRIVATE KEY|client-key-data|BEGIN CERTIFICATE/);
  for (const key of keys) {
    expect(text).not.toContain(key.split('\n')[1]);
    expect(text).not.toContain(b64(key).slice(0, 40));
  }
}

/** The CLI in a child process, asynchronously: the worker serving its workflow runs in this process. */
function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tsx', 'src/cli.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** The report of the lab as the hosts were prepared in beforeAll. */
function expectLabReport(report: CertReport): void {
  expect(report.rows.map((r) => `${r.host}:${r.path}:${r.status}`)).toEqual([
    'h1:/etc/kubernetes/pki/apiserver-etcd-client.crt:expired',
    'h1:/etc/kubernetes/pki/etcd/peer.crt:expiring',
    'h2:/var/lib/kubelet/pki/kubelet-client-current.pem:expiring',
    'h2:/etc/kubernetes/admin.conf:ok',
    'h1:/etc/kubernetes/pki/etcd/server.crt:ok',
    'h1:/etc/kubernetes/pki/etcd/ca.crt:ok',
  ]);
  const byPath = new Map(report.rows.map((r) => [r.path, r]));
  // Whole days, rounded down, from the moment the workflow read them.
  expect(byPath.get('/etc/kubernetes/pki/apiserver-etcd-client.crt')?.daysLeft).toBe(-36);
  expect(byPath.get('/etc/kubernetes/pki/etcd/peer.crt')?.daysLeft).toBe(4);
  expect(byPath.get('/etc/kubernetes/pki/etcd/server.crt')?.daysLeft).toBe(364);
  expect(byPath.get('/etc/kubernetes/admin.conf')).toMatchObject({
    subject: 'kubernetes-admin',
    issuer: 'kubernetes',
    source: 'kubeconfig',
    daysLeft: 199,
  });
  expect(byPath.get('/var/lib/kubelet/pki/kubelet-client-current.pem')).toMatchObject({
    subject: 'system:node:h2',
    daysLeft: 9,
  });
  expect(byPath.get('/etc/kubernetes/pki/etcd/peer.crt')).toMatchObject({ subject: 'h1', issuer: 'etcd-ca' });
  expect(report.hosts).toEqual([
    { host: 'h1', certificates: 4, read: true },
    { host: 'h2', certificates: 2, read: true },
    { host: 'h3', certificates: 0, read: true },
  ]);
  expect(report).toMatchObject({ minDaysLeft: -36, expired: 1, expiring: 2, ok: false, problems: [] });
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'k2h-certs-test-'));
  // The local CA store (renewal) lives under the state dir; the activities run in this process.
  process.env.KUBEADM2HA_STATE_DIR = join(scratch, 'state');
  lab = await createLab({ hosts: 3 });
  inventory = Inventory.parse(lab.inventory());
  temporal = await connectTemporal();
  taskQueue = uniqueQueue('certs');
  const w = await createKubeadmHaWorker({ connection: temporal.native, taskQueue, sshTrust: sshTrustOf(inventory) });
  workerDone = w.run(new Promise<void>((resolve) => (stopWorker = resolve)));

  const etcdCa = await createCa({ commonName: 'etcd-ca', keyType: 'ecdsa-p256', validityDays: 3650 });
  const kubeCa = await createCa({ commonName: 'kubernetes', keyType: 'ecdsa-p256', validityDays: 3650 });
  const leaf = (ca: CertificateAndKey, commonName: string, validityDays: number, now = new Date()) =>
    issueCertificate({ ca, commonName, keyType: 'ecdsa-p256', validityDays, usages: 'peer', now });
  // h1: the etcd family: valid a year, five days left, and one that expired 35 days ago (issued 400 days ago).
  await put('h1', '/etc/kubernetes/pki/etcd/ca.crt', etcdCa.certPem);
  await putPair('h1', '/etc/kubernetes/pki/etcd/server', await leaf(etcdCa, 'h1', 365));
  await putPair('h1', '/etc/kubernetes/pki/etcd/peer', await leaf(etcdCa, 'h1', 5));
  await putPair(
    'h1',
    '/etc/kubernetes/pki/apiserver-etcd-client',
    await leaf(etcdCa, 'kube-apiserver-etcd-client', 365, new Date(Date.now() - 400 * DAY - 60_000)),
  );
  // h2: a kubeconfig with an embedded client certificate and key, and kubelet's rotated client certificate
  // (key and certificate in one file behind the -current link).
  const admin = await issueCertificate({
    ca: kubeCa,
    commonName: 'kubernetes-admin',
    organization: 'system:masters',
    keyType: 'ecdsa-p256',
    validityDays: 200,
    usages: 'client',
  });
  keys.push(admin.keyPem);
  await put(
    'h2',
    '/etc/kubernetes/admin.conf',
    stringify({
      apiVersion: 'v1',
      clusters: [
        {
          cluster: { 'certificate-authority-data': b64(kubeCa.certPem), server: `https://${lab.vip}:8443` },
          name: 'lab',
        },
      ],
      contexts: [{ context: { cluster: 'lab', user: 'kubernetes-admin' }, name: 'kubernetes-admin@lab' }],
      'current-context': 'kubernetes-admin@lab',
      kind: 'Config',
      preferences: {},
      users: [
        {
          name: 'kubernetes-admin',
          user: { 'client-certificate-data': b64(admin.certPem), 'client-key-data': b64(admin.keyPem) },
        },
      ],
    }),
  );
  const kubelet = await issueCertificate({
    ca: kubeCa,
    commonName: 'system:node:h2',
    keyType: 'ecdsa-p256',
    validityDays: 10,
    usages: 'client',
  });
  keys.push(kubelet.keyPem);
  await put('h2', '/var/lib/kubelet/pki/kubelet-client-2025-01-01-00-00-00.pem', kubelet.certPem + kubelet.keyPem);
  await lab.exec(
    'h2',
    'cd /var/lib/kubelet/pki && ln -s kubelet-client-2025-01-01-00-00-00.pem kubelet-client-current.pem',
  );
  keys.push(etcdCa.keyPem, kubeCa.keyPem);
});

afterAll(async () => {
  stopWorker?.();
  await workerDone;
  await temporal?.close();
  await lab?.destroy();
  if (previousStateDir === undefined) delete process.env.KUBEADM2HA_STATE_DIR;
  else process.env.KUBEADM2HA_STATE_DIR = previousStateDir;
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('checkCertificates on lab hosts', () => {
  it('reports every certificate sorted by days left, flags the threshold, and keeps keys out of history', async () => {
    const handle = await temporal.client.workflow.start('checkCertificates', {
      taskQueue,
      workflowId: `${inventory.cluster.name}/certs/${taskQueue}`,
      args: [{ inventory, thresholdDays: 30 } satisfies CertsInput],
    });
    const report = (await handle.result()) as CertReport;
    expectLabReport(report);
    const desc = await handle.describe();
    expect(desc.memo?.[CERTS_MEMO_MIN_DAYS_LEFT]).toBe(-36);
    expect(desc.typedSearchAttributes.get(ClusterName)).toBe(inventory.cluster.name);
    expect(desc.typedSearchAttributes.get(Operation)).toBe('certs');
    const text = await historyText(handle);
    expect(text).toContain('kube-apiserver-etcd-client');
    expectNoKeys(text);
  });

  it('the CLI prints the table and exits 1 when a certificate is under the threshold, 0 when none is', async () => {
    const inv = await lab.writeInventory();
    const common = ['--address', temporalAddress(), '--task-queue', taskQueue, '--worker', 'external'];
    // In process (each CLI child costs a tsx start): --dry-run contacts nothing and names hosts and paths.
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await check({ inventory: inv, thresholdDays: '30', dryRun: true })).toBeUndefined();
      const printed = log.mock.calls.map((c) => String(c[0])).join('\n');
      expect(printed).toContain('/etc/kubernetes/pki/**/{*.crt}');
      expect(printed).toContain(`h3 (${lab.hosts[2]!.address})`);
    } finally {
      log.mockRestore();
    }

    const bad = await runCli(['certs', 'check', '-i', inv, ...common]);
    expect(bad.stderr).not.toMatch(/unexpected error/);
    expect(bad.status).toBe(1);
    const lines = bad.stdout.split('\n');
    expect(lines[0]).toMatch(/^HOST\s+PATH\s+SUBJECT CN\s+NOT AFTER\s+DAYS LEFT\s+ISSUER$/);
    expect(lines[1]).toMatch(
      /^h1\s+\/etc\/kubernetes\/pki\/apiserver-etcd-client\.crt\s+kube-apiserver-etcd-client\s+\S+\s+-36\s+etcd-ca\s+EXPIRED$/,
    );

    // `status` shows what each check recorded: the fewest days left, from the run's memo.
    const quiet = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const runs = await status({ inventory: inv, json: true, address: temporalAddress() }).finally(() =>
      quiet.mockRestore(),
    );
    expect(runs.find((r) => r.operation === 'checkCertificates')?.memo).toMatchObject({
      [CERTS_MEMO_MIN_DAYS_LEFT]: -36,
    });

    // Only h3, which has no certificates yet: nothing under the threshold.
    const onlyH3 = join(lab.dir, 'h3-only.yaml');
    const h3 = lab.hosts[2]!;
    await writeFile(
      onlyH3,
      stringify(lab.inventory({ hosts: [{ name: h3.name, address: h3.address, roles: ['primary-master', 'etcd'] }] })),
    );
    const good = await runCli(['certs', 'check', '-i', onlyH3, '--json', ...common]);
    expect(good.stderr).not.toMatch(/unexpected error/);
    expect(good.status).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({
      ok: true,
      rows: [],
      hosts: [{ host: 'h3', certificates: 0, read: true }],
    });
  });
});

describe('certificate check schedule', () => {
  it('creates one schedule however often it runs, describes it, runs it on trigger and deletes it', async () => {
    const cluster = inventory.cluster.name;
    const first = await ensureCertsSchedule(temporal.client, { inventory, every: '24h', thresholdDays: 30, taskQueue });
    const second = await ensureCertsSchedule(temporal.client, {
      inventory,
      every: '12h',
      thresholdDays: 30,
      taskQueue,
    });
    expect([first.created, second.created]).toEqual([true, false]);
    try {
      // Listing is eventually consistent: wait until the schedule shows, then count.
      const listed = await pollUntil(async () => {
        const ids: string[] = [];
        for await (const s of temporal.client.schedule.list())
          if (s.scheduleId.startsWith(`${cluster}/`)) ids.push(s.scheduleId);
        return ids.length ? ids : undefined;
      }, 'the schedule in the list');
      expect(listed).toEqual([certsScheduleId(cluster)]);

      const desc = await second.handle.describe();
      expect(desc.action).toMatchObject({
        type: 'startWorkflow',
        workflowType: 'checkCertificates',
        taskQueue,
        workflowId: `${cluster}/certs`,
      });
      expect((desc.action.args?.[0] as CertsInput).inventory.cluster.name).toBe(cluster);
      expect(desc.spec.intervals).toMatchObject([{ every: 12 * 60 * 60 * 1000 }]);
      expect(desc.policies.overlap).toBe('SKIP');

      await second.handle.trigger();
      const action = await pollUntil(
        async () => (await second.handle.describe()).info.recentActions[0],
        'the triggered run',
        30_000,
        200,
      );
      const run = temporal.client.workflow.getHandle(
        action.action.workflow.workflowId,
        action.action.workflow.firstExecutionRunId,
      );
      expectLabReport((await run.result()) as CertReport);
      // Listed in the Web UI like a `certs check` the operator runs, marked as the schedule's.
      expect(await (await run.describe()).staticSummary()).toBe(`certs check of ${cluster} (scheduled)`);

      const view = await pollUntil(async () => {
        const v = await describeCertsSchedule(temporal.client, cluster);
        return v?.recentRuns[0]?.status === 'COMPLETED' ? v : undefined;
      }, 'the run to show as completed');
      expect(view).toMatchObject({
        everyMs: [12 * 3_600_000],
        thresholdDays: 30,
        taskQueue,
        overlap: 'SKIP',
        paused: false,
        actionsTaken: 1,
      });
      expect(view.recentRuns[0]?.minDaysLeft).toBe(-36);
      expect(view.nextRuns.length).toBeGreaterThan(0);
      expect(Date.parse(view.nextRuns[0]!) - Date.now()).toBeLessThanOrEqual(12 * 3_600_000);
    } finally {
      expect(await deleteCertsSchedule(temporal.client, cluster)).toBe(true);
    }
    expect(await describeCertsSchedule(temporal.client, cluster)).toBeUndefined();
    expect(await deleteCertsSchedule(temporal.client, cluster)).toBe(false);
  });
});

describe('etcd member certificate renewal', () => {
  let etcdLab: Lab;
  // Its own worker: SSH trust is the worker's, and this lab has its own known_hosts and key.
  let etcdQueue: string;
  let stopEtcdWorker: () => void = () => undefined;
  let etcdWorkerDone: Promise<unknown> = Promise.resolve();
  let inv: Inventory;
  let ca: CertificateAndKey;
  let clientDir: string;
  const members = ['h1', 'h2', 'h3'];

  const check = async (): Promise<CertReport> =>
    (await temporal.client.workflow.execute('checkCertificates', {
      taskQueue: etcdQueue,
      workflowId: `${inv.cluster.name}/certs/${uniqueQueue('check')}`,
      args: [{ inventory: inv, thresholdDays: 30 } satisfies CertsInput],
    })) as CertReport;
  const etcdRows = (r: CertReport) => r.rows.filter((x) => x.path.startsWith('/etc/kubernetes/pki/etcd/') && !x.isCa);

  /** etcdctl from the operator's namespace, over the lab bridge, with a client certificate of the store's CA. */
  async function etcdctl(args: string[]): Promise<string> {
    return operatorEtcdctl(
      etcdLab.hosts.map((h) => `https://${h.address}:2379`),
      clientDir,
      args,
    );
  }

  beforeAll(async () => {
    etcdLab = await createLab({ hosts: 3 });
    inv = Inventory.parse(etcdLab.inventory());
    etcdQueue = uniqueQueue('certs-etcd');
    const w = await createKubeadmHaWorker({
      connection: temporal.native,
      taskQueue: etcdQueue,
      sshTrust: sshTrustOf(inv),
    });
    etcdWorkerDone = w.run(new Promise<void>((resolve) => (stopEtcdWorker = resolve)));
    // A real external etcd cluster, built by the etcd workflow (its CA goes to the store renewal signs with).
    await temporal.client.workflow.execute('setupEtcdCluster', {
      taskQueue: etcdQueue,
      workflowId: `${inv.cluster.name}/etcd/${etcdQueue}`,
      args: [{ inventory: inv, healthTimeoutSeconds: 60 }],
    });
    const store = join(scratch, 'state', 'clusters', inv.cluster.name, 'pki');
    clientDir = await mkdtemp(join(scratch, 'client-'));
    ca = await writeOperatorClient(store, clientDir);
    keys.push(ca.keyPem);
  });

  afterAll(async () => {
    stopEtcdWorker();
    await etcdWorkerDone;
    await etcdLab?.destroy();
  });

  it('reports a member certificate about to expire, renews every member one at a time, and etcd keeps quorum', async () => {
    // h2's peer certificate: made here, by the cluster's CA, valid for five more days (names as setup gives them).
    const h2 = inv.hosts.find((h) => h.name === 'h2')!;
    const soon = await issueCertificate({
      ca,
      commonName: 'h2',
      keyType: 'ecdsa-p256',
      validityDays: 5,
      usages: 'peer',
      ...etcdHostSans(h2),
    });
    keys.push(soon.keyPem);
    await etcdLab.exec(
      'h2',
      `printf %s ${quote(b64(soon.keyPem))} | base64 -d > /etc/kubernetes/pki/etcd/peer.key && printf %s ${quote(b64(soon.certPem))} | base64 -d > /etc/kubernetes/pki/etcd/peer.crt`,
    );

    const before = await check();
    const near = before.rows.find((r) => r.host === 'h2' && r.path === '/etc/kubernetes/pki/etcd/peer.crt');
    expect(near).toMatchObject({ status: 'expiring', daysLeft: 4, subject: 'h2', issuer: 'etcd-ca' });
    expect(before.ok).toBe(false);
    expect(etcdRows(before)).toHaveLength(3 * 3); // server, peer and healthcheck-client of each member
    const pids = await Promise.all(
      members.map(async (h) => (await etcdLab.exec(h, 'cat /run/etcd.pid')).stdout.trim()),
    );

    // Poll the cluster the whole time: a write needs quorum, and every member's health is recorded.
    let renewing = true;
    const probes: { wrote: boolean; healthy: number; error?: string }[] = [];
    const poller = (async () => {
      for (let i = 0; renewing; i++) {
        const probe: (typeof probes)[number] = { wrote: false, healthy: 0 };
        try {
          await etcdctl(['put', 'k2h-renew-probe', String(i)]);
          probe.wrote = true;
        } catch (err) {
          probe.error = String(err).slice(0, 300);
        }
        try {
          const health = JSON.parse(await etcdctl(['endpoint', 'health'])) as { health: boolean }[];
          probe.healthy = health.filter((e) => e.health).length;
        } catch (err) {
          // etcdctl exits 1 when an endpoint is unhealthy but still prints every endpoint's verdict.
          const out = (err as { stdout?: string }).stdout ?? '[]';
          probe.healthy = (JSON.parse(out || '[]') as { health: boolean }[]).filter((e) => e.health).length;
        }
        probes.push(probe);
      }
    })();
    let report: EtcdRenewalReport;
    const renewId = `${inv.cluster.name}/certs/renew-etcd/${etcdQueue}`;
    const started = Date.now();
    try {
      report = (await temporal.client.workflow.execute('renewEtcdCertificates', {
        taskQueue: etcdQueue,
        workflowId: renewId,
        args: [{ inventory: inv, healthTimeoutSeconds: 60 } satisfies RenewEtcdInput],
      })) as EtcdRenewalReport;
      await recordHistoryIfAsked(renewId, 'certs-renew-etcd-3-members');
    } finally {
      renewing = false;
      await poller;
    }
    process.stderr.write(
      `[certs] renewed 3 etcd members in ${Date.now() - started} ms; ${probes.length} probes, min healthy ${Math.min(...probes.map((p) => p.healthy))}/3\n`,
    );

    // One member at a time, in inventory order: the next member's certificates were written only after the
    // previous member had restarted and all members were healthy again.
    expect(report.members.map((m) => m.host)).toEqual(members);
    for (const [i, m] of report.members.entries()) {
      expect(m.renewed.map((r) => r.path).sort()).toEqual([
        '/etc/kubernetes/pki/etcd/healthcheck-client.crt',
        '/etc/kubernetes/pki/etcd/peer.crt',
        '/etc/kubernetes/pki/etcd/server.crt',
      ]);
      expect(m.restart).toBe('restarted');
      if (i > 0) expect(Date.parse(m.writtenAt)).toBeGreaterThanOrEqual(Date.parse(report.members[i - 1]!.healthyAt));
    }
    expect(report.members[1]?.renewed.find((r) => r.path.endsWith('peer.crt'))?.previousNotAfter).toBe(near?.notAfter);
    // Quorum throughout: every write went through, and at least two members were healthy at every probe.
    expect(probes.length).toBeGreaterThan(5);
    expect(probes.filter((p) => !p.wrote)).toEqual([]);
    expect(Math.min(...probes.map((p) => p.healthy))).toBeGreaterThanOrEqual(2);
    // Every member's etcd runs as a new process.
    const pidsAfter = await Promise.all(
      members.map(async (h) => (await etcdLab.exec(h, 'cat /run/etcd.pid')).stdout.trim()),
    );
    pidsAfter.forEach((p, i) => expect(p).not.toBe(pids[i]));

    const after = await check();
    expect(after.rows.find((r) => r.host === 'h2' && r.path === '/etc/kubernetes/pki/etcd/peer.crt')).toMatchObject({
      status: 'ok',
      daysLeft: 364,
    });
    const renewedPaths = ['server.crt', 'peer.crt', 'healthcheck-client.crt'].map(
      (f) => `/etc/kubernetes/pki/etcd/${f}`,
    );
    for (const row of etcdRows(after).filter((r) => renewedPaths.includes(r.path))) {
      const old = etcdRows(before).find((r) => r.host === row.host && r.path === row.path);
      expect(row.sha256Fingerprint).not.toBe(old?.sha256Fingerprint);
      expect(row.daysLeft).toBe(364);
    }
    // The apiserver's client certificate is not the members' to renew, and stays as it was.
    const apiClient = (r: CertReport) =>
      r.rows.filter((x) => x.path.endsWith('apiserver-etcd-client.crt')).map((x) => x.sha256Fingerprint);
    expect(apiClient(after)).toEqual(apiClient(before));
    const health = JSON.parse(await etcdctl(['endpoint', 'health'])) as { health: boolean }[];
    expect(health.map((e) => e.health)).toEqual([true, true, true]);
  });

  it('refuses to renew when a member trusts another CA, before changing anything', async () => {
    const other = await createCa({ commonName: 'etcd-ca', keyType: 'ecdsa-p256', validityDays: 3650 });
    const original = (await etcdLab.exec('h3', 'cat /etc/kubernetes/pki/etcd/ca.crt')).stdout;
    const digests = async () =>
      Promise.all(
        members.map(
          async (h) => (await etcdLab.exec(h, 'sha256sum /etc/kubernetes/pki/etcd/* && cat /run/etcd.pid')).stdout,
        ),
      );
    await etcdLab.exec('h3', `printf %s ${quote(b64(other.certPem))} | base64 -d > /etc/kubernetes/pki/etcd/ca.crt`);
    const snapshot = await digests();
    try {
      const err = await temporal.client.workflow
        .execute('renewEtcdCertificates', {
          taskQueue: etcdQueue,
          workflowId: `${inv.cluster.name}/certs/renew-etcd/${uniqueQueue('bad')}`,
          args: [{ inventory: inv, healthTimeoutSeconds: 30, onFailure: 'abort' } satisfies RenewEtcdInput],
        })
        .then(
          () => undefined,
          (e: unknown) => e as Error & { cause?: Error },
        );
      expect(err?.cause?.message).toMatch(
        /h3: checkHostCa: \/etc\/kubernetes\/pki\/etcd\/ca\.crt is another CA .*nothing was changed/,
      );
      expect(await digests()).toEqual(snapshot);
    } finally {
      await etcdLab.exec('h3', `printf %s ${quote(b64(original))} | base64 -d > /etc/kubernetes/pki/etcd/ca.crt`);
    }
  });
});
