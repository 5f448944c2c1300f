// Addons through the manageAddon workflow on a real cluster (the setup workflow on the real-Kubernetes lab, 2 masters
// + 1 worker, external etcd, VIP): server-side apply, a second apply that changes nothing, the admin-user's
// short-lived token through the VIP, and removal that leaves every API object as it was before apply
// (test/support/cluster-objects.ts says what is left out of that comparison, and why).
//
// dashboard (Headlamp) is tested BY ITS OBJECTS: its image is built by upstream only (a Node.js frontend and a Go
// backend the module proxy does not serve), so the lab cannot run it; the rollout wait is off for it (--no-wait).
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { adminUserToken } from '../../src/activities/addons-token.js';
import { issueAdminUserKubeconfig } from '../../src/cli/commands/kubeconfig.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { targetOf } from '../../src/plan/topology.js';
import { DASHBOARD_NODE_PORT } from '../../src/templates/addons/dashboard.js';
import { COLLECTOR_DIR, storeDir } from '../../src/templates/addons/logging.js';
import type { ManageAddonInput } from '../../src/workflows/addons.js';
import { resultOf, type RunbookResult } from '../../src/workflows/runbook.js';
import type { ApplyAddonResult, RemoveAddonResult } from '../../src/activities/addons.js';
import { changedPaths, diffObjects, settledClusterObjects, type ClusterObjects } from '../support/cluster-objects.js';
import { ADMIN } from '../support/k8s-cluster.js';
import { labClusterInventory } from '../support/lab-cluster.js';
import { labSuite } from '../support/lab-suite.js';
import { pollUntil } from '../support/poll.js';

const suite = labSuite({
  name: 'addons-wf',
  // metrics runs with its real image: metrics-server built from the Go module proxy, pushed to the lab registry.
  // logging too: VictoriaLogs and vlagent built from the Go module proxy; monitoring: prometheus-operator,
  // Prometheus, Alertmanager and node_exporter built from the Go module proxy.
  lab: { hosts: 3, addons: ['metrics', 'logging', 'monitoring'] },
  inventory: (lab) => labClusterInventory(lab, undefined, { imageRepository: `${lab.kubernetes.registry}/k8s` }),
  ready: async () => {
    const setup = await run<RunbookResult>('setupCluster', { inventory: suite.inventory });
    process.stderr.write(`[addons] cluster set up in ${setup.ms} ms\n`);
  },
});

const run = <R>(workflowType: string, input: unknown) => suite.run<R>(workflowType, [input], 'addons');

const addon = (addon: string, action: 'apply' | 'remove', extra: Partial<ManageAddonInput> = {}) =>
  run<RunbookResult>('manageAddon', { inventory: suite.inventory, addon, action, onFailure: 'abort', ...extra });

const applied = (r: RunbookResult) => resultOf<ApplyAddonResult>(r, 'cluster', 'applyAddonObjects')!;

/** A second apply of the same manifest: nothing created, no resourceVersion moved, nothing pruned, record kept. */
function expectUnchanged(a: ApplyAddonResult) {
  expect({ created: a.created, updated: a.updated, pruned: a.pruned, recordChanged: a.recordChanged }).toEqual({
    created: [],
    updated: [],
    pruned: [],
    recordChanged: false,
  });
}

/** The diff, readable in a failure message. */
function expectSame(before: ClusterObjects, after: ClusterObjects, what: string) {
  const d = diffObjects(before, after);
  const detail = d.changed.map(
    (k) => `${k}: ${changedPaths(JSON.parse(before.get(k)!), JSON.parse(after.get(k)!)).join('; ')}`,
  );
  expect({ gone: d.gone, added: d.added, changed: detail }, what).toEqual({ gone: [], added: [], changed: [] });
}

describe('addons through the workflow on a real cluster', () => {
  it('dashboard (by objects: Headlamp cannot be built here): applied server-side, twice changes nothing, admin-user token and kubeconfig --admin-user reach the API through the VIP, remove restores every object', async () => {
    const before = await settledClusterObjects(suite.lab, { workloadsReady: true });

    const first = await addon('dashboard', 'apply', { wait: false });
    const a1 = applied(first.result);
    process.stderr.write(`[addons] dashboard apply: ${first.ms} ms, ${a1.created.length} created\n`);
    expect(a1.created).toEqual(a1.objects);
    expect(a1.objects).toEqual([
      'Namespace/headlamp',
      'ServiceAccount/headlamp/headlamp',
      'ServiceAccount/kube-system/admin-user',
      'ClusterRoleBinding/admin-user',
      'Service/headlamp/headlamp',
      'Deployment/headlamp/headlamp',
    ]);
    const sh = async (cmd: string) => (await suite.lab.exec('h1', `${ADMIN} ${cmd}`)).stdout.trim();
    // Server-side apply by our field manager; replicas = masters (2); the NodePort as planned.
    expect(
      await sh(
        `-n headlamp get deployment headlamp -o jsonpath='{.spec.replicas} {.metadata.managedFields[*].manager}'`,
      ),
    ).toMatch(/^2 .*kubeadm2ha/);
    expect(await sh(`-n headlamp get service headlamp -o jsonpath='{.spec.type} {.spec.ports[0].nodePort}'`)).toBe(
      `NodePort ${DASHBOARD_NODE_PORT}`,
    );
    const record = JSON.parse(
      await sh(`-n kube-system get configmap kubeadm2ha-addon-dashboard -o jsonpath='{.data.objects}'`),
    ) as unknown[];
    expect(record).toHaveLength(a1.objects.length);
    const afterFirst = await settledClusterObjects(suite.lab);

    const second = await addon('dashboard', 'apply', { wait: false });
    const a2 = applied(second.result);
    process.stderr.write(`[addons] dashboard second apply: ${second.ms} ms\n`);
    expectUnchanged(a2);
    expectSame(afterFirst, await settledClusterObjects(suite.lab), 'a second apply changes no object');

    // The admin-user's token, minted on demand (never through a workflow), reaches the API through the VIP.
    const deps = createSshDeps(sshTrustOf(suite.inventory));
    try {
      const token = await adminUserToken(deps, suite.inventory, 600);
      const [, payload] = token.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as {
        exp: number;
        iat: number;
        sub: string;
      };
      expect(claims.sub).toBe('system:serviceaccount:kube-system:admin-user');
      expect(claims.exp - claims.iat).toBe(600);
      const worker = suite.inventory.hosts.find((h) => h.name === 'h3')!;
      const curl = (auth: string) =>
        deps
          .session({ target: targetOf(worker), ssh: suite.inventory.ssh })
          .run(
            [
              'curl',
              '-s',
              '-o',
              '/dev/null',
              '-w',
              '%{http_code}',
              '--max-time',
              '10',
              '--cacert',
              '/etc/kubernetes/pki/ca.crt',
              '-H',
              '@-',
              `https://${suite.lab.vip}:8443/api/v1/namespaces/kube-system/secrets?limit=1`,
            ],
            { stdin: `${auth}\n`, action: 'curl the API through the VIP', allowNonZero: true },
          );
      expect((await curl(`Authorization: Bearer ${token}`)).stdout).toBe('200');
      expect((await curl('X-No-Token: 1')).stdout).toBe('403');
      for (const h of [first.history, second.history]) expect(h).not.toContain(token);
    } finally {
      await deps.close();
    }

    // kubeconfig --admin-user: such a token in a 0600 file, and kubectl with it reaches the API through the VIP.
    const file = join(suite.scratch, 'admin-user.kubeconfig');
    const issued = await issueAdminUserKubeconfig(suite.inventory, { validitySeconds: 600, path: file });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(issued.server).toBe(`https://${suite.lab.vip}:8443`);
    const kubectl = (...args: string[]) =>
      promisify(execFile)(suite.lab.kubernetes.binaries.paths.kubectl, ['--kubeconfig', file, ...args]);
    expect((await kubectl('auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}')).stdout).toBe(
      'system:serviceaccount:kube-system:admin-user',
    );
    expect((await kubectl('-n', 'kube-system', 'get', 'secrets', '-o', 'name')).stdout).not.toBe('');
    const fileToken = /token: (\S+)/.exec(await readFile(file, 'utf8'))?.[1];
    expect(fileToken).toMatch(/^[A-Za-z0-9_.-]{20,}$/);
    // What the command prints (the issued summary) carries no token.
    expect(JSON.stringify(issued)).not.toContain(fileToken!);

    const removed = await addon('dashboard', 'remove');
    const r = resultOf<RemoveAddonResult>(removed.result, 'cluster', 'removeAddonObjects')!;
    process.stderr.write(`[addons] dashboard remove: ${removed.ms} ms\n`);
    expect(r.recorded).toBe(true);
    expect(r.deleted).toEqual([...a1.objects].reverse());
    expectSame(before, await settledClusterObjects(suite.lab), 'remove leaves every object as before apply');
    // A second remove finds no record and deletes nothing.
    const again = await addon('dashboard', 'remove');
    expect(resultOf<RemoveAddonResult>(again.result, 'cluster', 'removeAddonObjects')).toEqual({
      recorded: false,
      deleted: [],
    });
  }, 1_200_000);

  it('metrics (real image, metrics-server built from the Go module proxy): kubectl top nodes answers, a second apply changes nothing, remove restores every object', async () => {
    const before = await settledClusterObjects(suite.lab, { workloadsReady: true });
    const first = await addon('metrics', 'apply');
    const a1 = applied(first.result);
    process.stderr.write(`[addons] metrics apply + rollout: ${first.ms} ms, ${a1.created.length} created\n`);
    expect(a1.created).toEqual(a1.objects);
    expect(resultOf<{ ready: string[] }>(first.result, 'cluster', 'waitAddonReady')?.ready).toEqual([
      'Deployment/kube-system/metrics-server',
      'APIService/v1beta1.metrics.k8s.io',
    ]);
    // The first readings need a scrape or two (--metric-resolution=15s) after the APIService is Available.
    const t0 = Date.now();
    const top = await pollUntil(
      async () => {
        const r = await suite.lab.exec('h1', `${ADMIN} top nodes --no-headers`, { allowFail: true });
        const rows = r.stdout
          .trim()
          .split('\n')
          .map((l) => l.split(/\s+/))
          .filter((f) => /^\d+m$/.test(f[1] ?? '') && /^\d+Mi$/.test(f[3] ?? ''));
        return rows.length === 3 ? rows : undefined;
      },
      'kubectl top nodes with CPU and memory of h1, h2, h3',
      300_000,
      2_000,
    );
    process.stderr.write(`[addons] kubectl top nodes answered ${Date.now() - t0} ms after the rollout\n`);
    expect(top.map((f) => f[0]).sort()).toEqual(['h1', 'h2', 'h3']);
    const afterFirst = await settledClusterObjects(suite.lab);

    const second = await addon('metrics', 'apply');
    const a2 = applied(second.result);
    expectUnchanged(a2);
    expectSame(afterFirst, await settledClusterObjects(suite.lab), 'a second apply changes no object');

    const removed = await addon('metrics', 'remove');
    process.stderr.write(`[addons] metrics remove: ${removed.ms} ms\n`);
    expect(resultOf<RemoveAddonResult>(removed.result, 'cluster', 'removeAddonObjects')?.deleted).toEqual(
      [...a1.objects].reverse(),
    );
    expectSame(before, await settledClusterObjects(suite.lab), 'remove leaves every object as before apply');
    expect((await suite.lab.exec('h1', `${ADMIN} top nodes`, { allowFail: true })).stdout).toBe('');
  }, 1_200_000);

  it('logging (real images: VictoriaLogs + vlagent built from the Go module proxy): the store on the logs-hot/logs-warm hosts with their retention, a line a pod prints is found by a query to both tiers, twice changes nothing, remove deletes the collector buffers (the data only with deleteData) and restores every object', async () => {
    // h2 (a master) is the seed's elasticsearch_hot host, h3 (a worker) its elasticsearch_warm one.
    const tiers: Record<string, 'logs-hot' | 'logs-warm'> = { h2: 'logs-hot', h3: 'logs-warm' };
    const logInv: Inventory = {
      ...suite.inventory,
      hosts: suite.inventory.hosts.map((h) => (tiers[h.name] ? { ...h, roles: [...h.roles, tiers[h.name]!] } : h)),
    };
    const sh = async (cmd: string, host = 'h1') => (await suite.lab.exec(host, `${ADMIN} ${cmd}`)).stdout.trim();
    const exists = async (host: string, dir: string) =>
      (await suite.lab.exec(host, `test -d ${dir}`, { allowFail: true })).code === 0;
    const before = await settledClusterObjects(suite.lab, { workloadsReady: true });

    const first = await addon('logging', 'apply', { inventory: logInv });
    const a1 = applied(first.result);
    process.stderr.write(`[addons] logging apply + rollout: ${first.ms} ms, ${a1.created.length} created\n`);
    expect(a1.created).toEqual(a1.objects);
    expect(resultOf<{ ready: string[] }>(first.result, 'cluster', 'waitAddonReady')?.ready).toEqual([
      'StatefulSet/logging/vlogs-hot',
      'StatefulSet/logging/vlogs-warm',
      'DaemonSet/logging/vlagent',
    ]);
    // Placement: the store on its tier's host, the collector on every node; each tier's retention in days.
    const placed = await sh(
      `-n logging get pods -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\\n"}{end}'`,
    );
    const pods = placed.split('\n').map((l) => l.split(' ') as [string, string]);
    expect(pods.filter(([p]) => p.startsWith('vlogs-'))).toEqual([
      ['vlogs-hot-0', 'h2'],
      ['vlogs-warm-0', 'h3'],
    ]);
    expect(
      pods
        .filter(([p]) => p.startsWith('vlagent-'))
        .map(([, n]) => n)
        .sort(),
    ).toEqual(['h1', 'h2', 'h3']);
    for (const [tier, days] of [
      ['hot', 3],
      ['warm', 30],
    ] as const)
      expect(
        await sh(`-n logging get statefulset vlogs-${tier} -o jsonpath='{.spec.template.spec.containers[0].args}'`),
      ).toContain(`-retentionPeriod=${days}d`);
    for (const h of ['h1', 'h2', 'h3']) expect(await exists(h, COLLECTOR_DIR), `${h} ${COLLECTOR_DIR}`).toBe(true);

    // A pod prints a line nobody else prints (hello logs its listening port); the store answers a query for it.
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const pod = `k2h-logline-${port}`;
    await sh(
      `run ${pod} --image=${suite.lab.kubernetes.imageRepository}/hello:1 --restart=Never --env=PORT=${port} --labels=k2h-test=logging`,
    );
    const line = `listening on [::]:${port}`;
    const t0 = Date.now();
    const query = encodeURIComponent(`"${line}"`);
    const found: Record<string, string> = {};
    for (const tier of ['hot', 'warm']) {
      found[tier] = await pollUntil(
        async () => {
          const out = await sh(
            `get --raw '/api/v1/namespaces/logging/pods/vlogs-${tier}-0:9428/proxy/select/logsql/query?query=${query}'`,
          );
          return out.includes(line) ? out : undefined;
        },
        `the line "${line}" in vlogs-${tier}`,
        300_000,
        2_000,
      );
    }
    process.stderr.write(`[addons] logging: the pod's line found in both tiers ${Date.now() - t0} ms after it ran\n`);
    const hit = JSON.parse(found.hot!.split('\n')[0]!) as Record<string, string>;
    expect(hit['kubernetes.pod_name']).toBe(pod);
    expect(hit['kubernetes.pod_namespace']).toBe('default');
    await sh(`delete pod ${pod} --wait=true --timeout=120s`);
    const afterFirst = await settledClusterObjects(suite.lab);

    const second = await addon('logging', 'apply', { inventory: logInv });
    expectUnchanged(applied(second.result));
    expectSame(afterFirst, await settledClusterObjects(suite.lab), 'a second apply changes no object');

    // remove: every object, and the collector's buffers on every node; the store's days stay (not asked to delete).
    const removed = await addon('logging', 'remove', { inventory: logInv });
    process.stderr.write(`[addons] logging remove: ${removed.ms} ms\n`);
    expect(resultOf<RemoveAddonResult>(removed.result, 'cluster', 'removeAddonObjects')?.deleted).toEqual(
      [...a1.objects].reverse(),
    );
    for (const h of ['h1', 'h2', 'h3']) expect(await exists(h, COLLECTOR_DIR), `${h} ${COLLECTOR_DIR}`).toBe(false);
    expect(await exists('h2', storeDir('hot'))).toBe(true);
    expect(await exists('h3', storeDir('warm'))).toBe(true);
    expectSame(before, await settledClusterObjects(suite.lab), 'remove leaves every object as before apply');

    // Asked to (the seed's uninstall-efk-stack), a remove deletes the store's data too; nothing of it is left.
    await addon('logging', 'remove', { inventory: logInv, deleteData: true });
    expect(await exists('h2', storeDir('hot'))).toBe(false);
    expect(await exists('h3', storeDir('warm'))).toBe(false);
    for (const h of ['h1', 'h2', 'h3'])
      expect((await suite.lab.exec(h, 'ls /var/lib/kubeadm2ha/addons', { allowFail: true })).code, h).not.toBe(0);
  }, 1_800_000);

  it('monitoring (real images, built from the Go module proxy): Prometheus reports the apiserver, kubelet, node-exporter and etcd targets up, a second apply changes nothing, remove restores every object (CRDs included), also after an interrupted remove deleted the CRDs', async () => {
    const before = await settledClusterObjects(suite.lab, { workloadsReady: true });
    const first = await addon('monitoring', 'apply');
    const a1 = applied(first.result);
    process.stderr.write(`[addons] monitoring apply + rollout: ${first.ms} ms, ${a1.created.length} created\n`);
    expect(a1.created).toEqual(a1.objects);
    expect(a1.objects.filter((o) => o.startsWith('CustomResourceDefinition/'))).toHaveLength(8);
    expect(resultOf<{ ready: string[] }>(first.result, 'cluster', 'waitAddonReady')?.ready).toEqual([
      'Deployment/monitoring/prometheus-operator',
      'DaemonSet/monitoring/node-exporter',
    ]);
    const sh = async (cmd: string) => (await suite.lab.exec('h1', `${ADMIN} ${cmd}`)).stdout.trim();
    // The etcd client certificate was made on the worker: neither its key nor the certificate is in the history.
    const tlsKey = await sh(`-n monitoring get secret etcd-client -o jsonpath='{.data.tls\\.key}'`);
    const tlsCrt = await sh(`-n monitoring get secret etcd-client -o jsonpath='{.data.tls\\.crt}'`);
    expect(tlsKey.length).toBeGreaterThan(100);
    const keyPem = Buffer.from(tlsKey, 'base64').toString();
    expect(keyPem).toContain('PRIVATE KEY');
    for (const secret of [tlsKey, tlsCrt, keyPem.split('\n')[1]!]) expect(first.history).not.toContain(secret);

    // Prometheus's own view, through the API server's service proxy: every target of the four jobs up.
    const t0 = Date.now();
    const wanted = { apiserver: 2, kubelet: 3, 'node-exporter': 3, etcd: 3 };
    type Target = { labels: { job: string; instance: string }; health: string; lastError: string };
    let last: Target[] = [];
    const up = await pollUntil(
      async () => {
        const r = await suite.lab.exec(
          'h1',
          `${ADMIN} get --raw '/api/v1/namespaces/monitoring/services/prometheus-operated:web/proxy/api/v1/targets?state=active'`,
          { allowFail: true },
        );
        if (r.code !== 0) return undefined;
        last = (JSON.parse(r.stdout) as { data: { activeTargets: Target[] } }).data.activeTargets;
        const byJob = Object.fromEntries(
          Object.keys(wanted).map((j) => [j, last.filter((t) => t.labels.job === j && t.health === 'up').length]),
        );
        return JSON.stringify(byJob) === JSON.stringify(wanted) ? byJob : undefined;
      },
      `Prometheus targets up: ${JSON.stringify(wanted)}`,
      900_000,
      5_000,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}; last targets: ${JSON.stringify(last.map((t) => [t.labels.job, t.labels.instance, t.health, t.lastError]))}`,
      );
    });
    process.stderr.write(
      `[addons] monitoring targets up ${Date.now() - t0} ms after the rollout: ${JSON.stringify(up)}; ` +
        `${last.map((t) => `${t.labels.job}/${t.labels.instance}`).join(' ')}\n`,
    );
    const afterFirst = await settledClusterObjects(suite.lab);

    const second = await addon('monitoring', 'apply');
    const a2 = applied(second.result);
    process.stderr.write(`[addons] monitoring second apply: ${second.ms} ms\n`);
    expectUnchanged(a2);
    expectSame(afterFirst, await settledClusterObjects(suite.lab), 'a second apply changes no object');

    // A remove interrupted after the CRDs were deleted (the worker died before the record went), made by hand: the
    // CRDs go, and with them every Prometheus, Alertmanager, ServiceMonitor and ScrapeConfig; the rest and the
    // record stay. The remove run then must skip those kinds (no longer served) and finish.
    const crds = a1.objects.filter((o) => o.startsWith('CustomResourceDefinition/'));
    await sh(`delete ${crds.map((o) => `crd/${o.split('/')[1]}`).join(' ')} --wait --timeout=300s`);
    // kubectl's discovery cache (/root/.kube/cache, per API server address, hours long) still maps the deleted kinds,
    // and a DELETE on such a stale mapping is a 404 that --ignore-not-found hides. A retry after the cache expired
    // (or from a host without it) maps afresh and meets kinds that no longer exist: that is the retry tested here.
    await suite.lab.exec('h1', `rm -rf /root/.kube/cache/discovery/${suite.inventory.cluster.vip.address}_*`);
    const removed = await addon('monitoring', 'remove');
    process.stderr.write(`[addons] monitoring remove after its CRDs were deleted: ${removed.ms} ms\n`);
    const r = resultOf<RemoveAddonResult>(removed.result, 'cluster', 'removeAddonObjects')!;
    const custom = /^(Prometheus|Alertmanager|ServiceMonitor|ScrapeConfig)\//;
    expect(r.skipped?.objects).toEqual([...a1.objects].reverse().filter((o) => custom.test(o)));
    expect(r.skipped?.kinds.every((k) => k.endsWith('.monitoring.coreos.com'))).toBe(true);
    expect(r.deleted).toEqual([...a1.objects].reverse().filter((o) => !custom.test(o)));
    expectSame(before, await settledClusterObjects(suite.lab), 'remove leaves every object as before apply');
    expect(await sh('get crd -o name')).not.toMatch(/monitoring\.coreos\.com/);
  }, 2_400_000);
});
