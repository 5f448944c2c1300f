// removeAddonObjects run again after an interrupted remove (src/activities/addons.ts). kubectl is a stand-in: a small
// model of an API server that serves built-in kinds and the kinds of the CRDs it holds, and that deletes a CRD's
// objects with it; `delete -f -` fails on a kind it does not serve, as the real kubectl does ("no matches for kind").
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createAddonActivities,
  recordName,
  refKey,
  unservedRefs,
  type ObjectRef,
} from '../../../src/activities/addons.js';
import type { ActivityDeps } from '../../../src/activities/deps.js';
import { CommandFailedError } from '../../../src/errors.js';
import type { HostSession } from '../../../src/ssh/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'k2h-addons-remove-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const kubeconfig = join(scratch, 'admin.conf');
writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n');

const GROUP = 'monitoring.coreos.com';
const crd = (plural: string): ObjectRef => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  name: `${plural}.${GROUP}`,
});
/** What monitoring's apply records, in apply order (a few of its objects). */
const recorded: ObjectRef[] = [
  { apiVersion: 'v1', kind: 'Namespace', name: 'monitoring' },
  crd('prometheuses'),
  crd('servicemonitors'),
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'prometheus-operator' },
  { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'monitoring', name: 'prometheus-operator' },
  { apiVersion: `${GROUP}/v1`, kind: 'Prometheus', namespace: 'monitoring', name: 'k8s' },
  { apiVersion: `${GROUP}/v1`, kind: 'ServiceMonitor', namespace: 'monitoring', name: 'etcd' },
];
const kindOfCrd: Record<string, string> = {
  [`prometheuses.${GROUP}`]: 'Prometheus',
  [`servicemonitors.${GROUP}`]: 'ServiceMonitor',
};

/** The model API server with the record and every recorded object; kubectl calls are logged. */
function cluster() {
  const objects = new Map(recorded.map((r) => [refKey(r), r]));
  let record: string | undefined = JSON.stringify(recorded);
  const calls: string[][] = [];
  const servedCustomKinds = () =>
    [...objects.values()].filter((o) => o.kind === 'CustomResourceDefinition').map((o) => kindOfCrd[o.name]!);
  const builtins = [
    'namespaces  ns  v1  false  Namespace',
    'configmaps  cm  v1  true  ConfigMap',
    'clusterroles    rbac.authorization.k8s.io/v1  false  ClusterRole',
    'deployments  deploy  apps/v1  true  Deployment',
    'customresourcedefinitions  crd,crds  apiextensions.k8s.io/v1  false  CustomResourceDefinition',
  ];
  const kubectl = (args: string[], input: string): { code: number; stdout: string; stderr: string } => {
    calls.push(args);
    if (args[0] === '-n' && args[2] === 'get' && args[3] === 'configmap')
      return { code: 0, stdout: record === undefined ? '' : `${args[4]} ${record}`, stderr: '' };
    if (args[0] === 'api-resources') {
      const custom = servedCustomKinds().map((k) => `${k.toLowerCase()}s    ${GROUP}/v1  true  ${k}`);
      return { code: 0, stdout: [...builtins, ...custom].join('\n') + '\n', stderr: '' };
    }
    if (args[0] === 'delete') {
      const errors: string[] = [];
      for (const doc of input.split('\n---\n')) {
        const o = JSON.parse(doc) as {
          apiVersion: string;
          kind: string;
          metadata: { name: string; namespace?: string };
        };
        const ref: ObjectRef = {
          apiVersion: o.apiVersion,
          kind: o.kind,
          ...(o.metadata.namespace && { namespace: o.metadata.namespace }),
          name: o.metadata.name,
        };
        if (o.apiVersion.startsWith(`${GROUP}/`) && !servedCustomKinds().includes(o.kind)) {
          errors.push(
            `error: resource mapping not found for name: "${o.metadata.name}" namespace: "${o.metadata.namespace ?? ''}" from "STDIN": no matches for kind "${o.kind}" in version "${o.apiVersion}"\nensure CRDs are installed first`,
          );
          continue;
        }
        if (o.kind === 'ConfigMap' && o.metadata.name === recordName('monitoring')) record = undefined;
        objects.delete(refKey(ref));
        // Deleting a CRD deletes its objects.
        if (o.kind === 'CustomResourceDefinition')
          for (const [k, x] of objects) if (x.kind === kindOfCrd[o.metadata.name]) objects.delete(k);
      }
      return { code: errors.length ? 1 : 0, stdout: '', stderr: errors.join('\n') };
    }
    throw new Error(`the stand-in does not know kubectl ${args.join(' ')}`);
  };
  const session = {
    name: 'h1',
    run: (command: string[], opts: { allowNonZero?: boolean; stdin?: Buffer } = {}) => {
      // Either `kubectl --kubeconfig=/dev/stdin ARGS` or `bash -c SPLIT kubectl <kubeconfig length> ARGS` with the
      // kubeconfig and then kubectl's input on stdin (createKubectl).
      const split = command[0] === 'bash';
      const args = split ? command.slice(5) : command.slice(2);
      const input = split ? opts.stdin!.subarray(Number(command[4])).toString() : '';
      const r = kubectl(args, input);
      if (r.code !== 0 && !opts.allowNonZero)
        return Promise.reject(new CommandFailedError('h1', `kubectl ${args.slice(0, 3).join(' ')}`, r.code, r.stderr));
      return Promise.resolve({ ...r, durationMs: 1 });
    },
  } as unknown as HostSession;
  const deps: ActivityDeps = { session: () => session, now: () => Date.now() };
  return { objects, calls, deps, hasRecord: () => record !== undefined };
}

const via = { target: { name: 'h1', address: '10.200.1.11' } } as never;
const input = { via, cluster: 'lab', addon: 'monitoring', timeoutSeconds: 5 };

describe('removeAddonObjects after an interrupted remove (kubectl is a stand-in)', () => {
  it('deletes everything the record lists, newest first, when every kind is served', async () => {
    const c = cluster();
    const a = createAddonActivities(c.deps, { kubeconfigPath: () => kubeconfig });
    const r = await a.removeAddonObjects(input);
    expect(r).toEqual({ recorded: true, deleted: [...recorded].reverse().map(refKey) });
    expect(c.objects.size).toBe(0);
    expect(c.hasRecord()).toBe(false);
  });

  it('skips objects whose CRD an interrupted first attempt deleted (they went with it), and finishes', async () => {
    const c = cluster();
    // The first attempt got as far as the CRDs (and with them their objects) before the worker died: the record
    // and the objects deleted after the CRDs are still there.
    for (const r of recorded.filter((x) => x.kind === 'CustomResourceDefinition')) c.objects.delete(refKey(r));
    for (const [k, x] of c.objects) if (x.apiVersion.startsWith(GROUP)) c.objects.delete(k);
    const a = createAddonActivities(c.deps, { kubeconfigPath: () => kubeconfig });
    const r = await a.removeAddonObjects(input);
    expect(r.skipped).toEqual({
      objects: ['ServiceMonitor/monitoring/etcd', 'Prometheus/monitoring/k8s'],
      kinds: [`ServiceMonitor.${GROUP}`, `Prometheus.${GROUP}`],
    });
    expect(r.deleted).toEqual([
      'Deployment/monitoring/prometheus-operator',
      'ClusterRole/prometheus-operator',
      `CustomResourceDefinition/servicemonitors.${GROUP}`,
      `CustomResourceDefinition/prometheuses.${GROUP}`,
      'Namespace/monitoring',
    ]);
    expect(c.objects.size).toBe(0);
    expect(c.hasRecord()).toBe(false);
    // And once more: no record, nothing to do.
    expect(await a.removeAddonObjects(input)).toEqual({ recorded: false, deleted: [] });
  });
});

describe('kinds the API server no longer serves', () => {
  const refs = recorded.filter((r) => r.kind !== 'CustomResourceDefinition');
  const table = [
    'NAME SHORTNAMES APIVERSION NAMESPACED KIND',
    'namespaces  ns  v1  false  Namespace',
    'clusterroles    rbac.authorization.k8s.io/v1  false  ClusterRole',
    'deployments  deploy  apps/v1  true  Deployment',
    `prometheuses  prom  ${GROUP}/v1  true  Prometheus`,
  ].join('\n');

  it('are those served in no version of their group; the rest stays', () => {
    const { served, unserved } = unservedRefs(refs, { code: 0, stdout: table, stderr: '' });
    expect(unserved.map(refKey)).toEqual(['ServiceMonitor/monitoring/etcd']);
    expect(served).toHaveLength(refs.length - 1);
    // Another version of the group than the recorded one still serves the kind.
    const v1beta1 = { ...refs.find((r) => r.kind === 'Prometheus')!, apiVersion: `${GROUP}/v1beta1` };
    expect(unservedRefs([v1beta1], { code: 0, stdout: table, stderr: '' }).unserved).toEqual([]);
  });

  it('never include a group whose discovery failed, and nothing when kubectl failed otherwise', () => {
    const partial = {
      code: 1,
      stdout: table,
      stderr:
        'error: unable to retrieve the complete list of server APIs: metrics.k8s.io/v1beta1: the server is currently unable to handle the request, monitoring.coreos.com/v1: stale GroupVersion discovery',
    };
    expect(unservedRefs(refs, partial).unserved).toEqual([]);
    const metrics = { ...refs[0]!, apiVersion: 'metrics.k8s.io/v1beta1', kind: 'NodeMetrics', name: 'x' };
    expect(unservedRefs([metrics], { ...partial, stderr: partial.stderr.split(', ')[0]! }).unserved).toEqual([]);
    expect(unservedRefs(refs, { code: 1, stdout: '', stderr: 'error: connection refused' }).unserved).toEqual([]);
    expect(unservedRefs(refs, { code: 1, stdout: table, stderr: 'error: something else' }).unserved).toEqual([]);
  });
});
