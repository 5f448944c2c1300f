// Addons on a running cluster (src/plan/addons.ts plans them): server-side apply of a rendered manifest, waiting
// for its rollout, and removal of exactly what an apply created. All through kubectl on a master with the admin
// kubeconfig from the local store (src/activities/kube-api.ts createKubectl), never from history.
//
// What an addon created is recorded in the cluster, in the ConfigMap kube-system/kubeadm2ha-addon-<name> (object
// references only, nothing secret). Why the cluster and not the local state dir: the record then lives and dies
// with the objects it lists — any operator machine or worker with the admin kubeconfig can remove the addon, a
// restored or re-installed workstation does not forget it, and a torn-down cluster leaves no stale record behind.
// Apply writes the record BEFORE it creates anything (the union of what was recorded and what it is about to
// apply), so an apply that dies half-way still leaves every object it may have made listed; once the apply
// succeeded, objects a previous version had and this one does not are deleted (pruned) and the record narrowed to
// exactly the applied set. Remove deletes the listed objects newest first, waiting for each to be gone with its
// dependents (foreground cascade: a Deployment's ReplicaSets and pods, a Service's EndpointSlices), then the record.
//
// Server-side apply with the field manager `kubeadm2ha`: a second apply of the same manifest writes nothing (no
// resourceVersion moves), which is how "applying twice changes nothing" is checked (the result lists what moved).
import { parseAllDocuments } from 'yaml';
import { FailureType, InvalidInputError, KubeadmHaError } from '../errors.js';
import type { HostContext } from '../plan/types.js';
import { heartbeat } from './activity-context.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { createKubectl, FIELD_MANAGER, OBJECT_VERSIONS, parseVersions, type KubeApiOptions } from './kube-api.js';
import { fillAddonSecrets } from './addon-secrets.js';

export const RECORD_NAMESPACE = 'kube-system';
export const recordName = (addon: string): string => `kubeadm2ha-addon-${addon}`;

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export const refKey = (r: ObjectRef): string => `${r.kind}/${r.namespace ? `${r.namespace}/` : ''}${r.name}`;

export interface ApplyAddonInput {
  via: HostContext;
  cluster: string;
  addon: string;
  version: string;
  /** The rendered objects, YAML documents in apply order. */
  manifest: string;
  timeoutSeconds?: number;
}

export interface ApplyAddonResult {
  /** Every applied object, in apply order (kind/namespace/name). */
  objects: string[];
  /** Objects that did not exist before this apply. */
  created: string[];
  /** Objects that existed and whose resourceVersion this apply moved (a spec or label changed). */
  updated: string[];
  /** Objects of an earlier apply that this version no longer has: deleted. */
  pruned: string[];
  /** Whether the record ConfigMap was written. */
  recordChanged: boolean;
}

export interface WaitAddonInput {
  via: HostContext;
  cluster: string;
  addon: string;
  /** Deployments, DaemonSets and StatefulSets to see rolled out; APIServices to see Available. */
  waitFor: ObjectRef[];
  timeoutSeconds: number;
}

export interface RemoveAddonInput {
  via: HostContext;
  cluster: string;
  addon: string;
  timeoutSeconds?: number;
}

/** Where addons keep node directories; removal deletes nothing outside <ADDON_HOST_ROOT>/<addon>/. */
export const ADDON_HOST_ROOT = '/var/lib/kubeadm2ha/addons';

export interface RemoveAddonHostPathsInput {
  host: HostContext;
  addon: string;
  /** Directories under ADDON_HOST_ROOT/<addon>/ (the template's hostPaths). */
  paths: string[];
}

export interface RemoveAddonResult {
  /** False when no record existed: nothing of this addon was installed by us. */
  recorded: boolean;
  /** What was deleted, newest first (objects already gone are listed too: the record named them). */
  deleted: string[];
  /** Recorded objects of kinds the API server no longer serves (their CustomResourceDefinition is gone, e.g. deleted
   * by an earlier, interrupted remove): gone with it, so not asked for. Absent when none. */
  skipped?: { objects: string[]; kinds: string[] };
}

const addonName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const CRD_KIND = 'CustomResourceDefinition';

/** The API groups the manifest's CustomResourceDefinitions define. */
function definedGroups(manifest: string): Set<string> {
  return new Set(
    parseAllDocuments(manifest)
      .map((d) => d.toJS() as { kind?: unknown; spec?: { group?: unknown } } | null)
      .filter((o) => o?.kind === CRD_KIND && typeof o.spec?.group === 'string')
      .map((o) => o!.spec!.group as string),
  );
}

/** The manifest's CustomResourceDefinitions alone, applied (and waited for) before the objects of their kinds. */
function onlyCrds(manifest: string): string {
  return parseAllDocuments(manifest)
    .filter((d) => (d.toJS() as { kind?: unknown } | null)?.kind === CRD_KIND)
    .map((d) => d.toString())
    .join('---\n');
}

/** The object references of a manifest, in document order; every document must be one named object. */
export function manifestRefs(manifest: string): ObjectRef[] {
  return parseAllDocuments(manifest)
    .map((d) => {
      if (d.errors.length) throw new InvalidInputError(`addon manifest: ${d.errors[0]!.message}`);
      return d.toJS() as unknown;
    })
    .filter((o) => o !== null && o !== undefined)
    .map((o) => {
      const obj = o as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
      if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || typeof obj.metadata?.name !== 'string')
        throw new InvalidInputError('addon manifest: every document needs apiVersion, kind and metadata.name');
      return {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        ...(typeof obj.metadata.namespace === 'string' && { namespace: obj.metadata.namespace }),
        name: obj.metadata.name,
      };
    });
}

/** Minimal documents naming `refs`, for `kubectl get|delete -f -` (no resource-name syntax per kind to get wrong). */
function refsManifest(refs: ObjectRef[]): string {
  return refs
    .map((r) =>
      JSON.stringify({
        apiVersion: r.apiVersion,
        kind: r.kind,
        metadata: { name: r.name, ...(r.namespace && { namespace: r.namespace }) },
      }),
    )
    .join('\n---\n');
}

const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');
const kindKey = (r: Pick<ObjectRef, 'apiVersion' | 'kind'>): string => {
  const g = groupOf(r.apiVersion);
  return g ? `${r.kind}.${g}` : r.kind;
};

/**
 * Which of `refs` the API server cannot have, from `kubectl api-resources --no-headers` (columns NAME, SHORTNAMES,
 * APIVERSION, NAMESPACED, KIND; SHORTNAMES may be empty, so read from the right): those whose kind is served in
 * no version of its group. Such a kind was a custom resource whose CustomResourceDefinition is gone, and deleting a
 * CRD deletes its objects: they are gone too. kubectl would stop at them ("no matches for kind"), so a remove
 * interrupted after the CRDs went could never finish. A group whose discovery failed (an aggregated API that is down:
 * kubectl exits non-zero and names it) proves nothing and is kept; so is everything when kubectl failed otherwise.
 */
export function unservedRefs(
  refs: ObjectRef[],
  apiResources: { code: number | null; stdout: string; stderr: string },
): { served: ObjectRef[]; unserved: ObjectRef[] } {
  const served = new Set<string>();
  for (const line of apiResources.stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 4) served.add(kindKey({ apiVersion: f[f.length - 3]!, kind: f[f.length - 1]! }));
  }
  let unknownGroups: Set<string> | undefined = new Set();
  if (apiResources.code !== 0) {
    const failed = /unable to retrieve the complete list of server APIs: (.*)/s.exec(apiResources.stderr)?.[1];
    unknownGroups = failed
      ? new Set([...failed.matchAll(/(?:^|, )([a-z0-9.-]+)\/v[0-9a-z]+: /g)].map((m) => m[1]!))
      : undefined;
  }
  if (!unknownGroups || served.size === 0) return { served: refs, unserved: [] };
  const gone = (r: ObjectRef) => !served.has(kindKey(r)) && !unknownGroups.has(groupOf(r.apiVersion));
  return { served: refs.filter((r) => !gone(r)), unserved: refs.filter(gone) };
}

function parseRecord(json: string): ObjectRef[] {
  if (json.trim() === '') return [];
  const v = JSON.parse(json) as unknown;
  if (!Array.isArray(v)) throw new KubeadmHaError('the addon record is not a list', FailureType.HostNotSuitable);
  return v as ObjectRef[];
}

export function createAddonActivities(deps: ActivityDeps, opts: KubeApiOptions = {}) {
  const { kubectl, run } = createKubectl(deps, opts);
  const check = (addon: string) => {
    if (!addonName.test(addon)) throw new InvalidInputError(`invalid addon name ${addon}`);
  };

  /** resourceVersion of each existing object of `refs`, by refKey; absent ones are missing. */
  async function versions(via: HostContext, cluster: string, refs: ObjectRef[]): Promise<Map<string, string>> {
    if (refs.length === 0) return new Map();
    const out = await kubectl({
      via,
      cluster,
      args: ['get', '-f', '-', '--ignore-not-found', ...OBJECT_VERSIONS],
      input: refsManifest(refs),
    });
    // parseVersions keys cluster-scoped objects Kind//name; refKey says Kind/name.
    return new Map([...parseVersions(out)].map(([k, v]) => [k.replace('//', '/'), v]));
  }

  async function readRecord(via: HostContext, cluster: string, addon: string): Promise<ObjectRef[] | undefined> {
    const out = await kubectl({
      via,
      cluster,
      args: [
        '-n',
        RECORD_NAMESPACE,
        'get',
        'configmap',
        recordName(addon),
        '--ignore-not-found',
        '-o',
        'jsonpath={.metadata.name} {.data.objects}',
      ],
    });
    if (out.trim() === '') return undefined;
    return parseRecord(out.slice(out.indexOf(' ') + 1));
  }

  async function writeRecord(
    i: { via: HostContext; cluster: string; addon: string; version: string },
    refs: ObjectRef[],
  ) {
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: recordName(i.addon),
        namespace: RECORD_NAMESPACE,
        labels: { 'app.kubernetes.io/managed-by': FIELD_MANAGER },
      },
      data: { addon: i.addon, version: i.version, objects: JSON.stringify(refs) },
    };
    await kubectl({
      ...i,
      args: ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'],
      input: JSON.stringify(cm),
    });
  }

  /** Deletes `refs` (gone ones are fine) except those of kinds no longer served (unservedRefs), which it returns. */
  async function deleteRefs(
    via: HostContext,
    cluster: string,
    all: ObjectRef[],
    timeoutSeconds: number,
  ): Promise<ObjectRef[]> {
    if (all.length === 0) return [];
    // Only a custom kind can stop being served; discovery is asked only when there is one.
    const { served: refs, unserved } = all.some((r) => groupOf(r.apiVersion).includes('.'))
      ? unservedRefs(all, await run({ via, cluster, args: ['api-resources', '--no-headers'] }, true))
      : { served: all, unserved: [] };
    if (refs.length === 0) return unserved;
    await kubectl({
      via,
      cluster,
      args: [
        'delete',
        '-f',
        '-',
        '--ignore-not-found',
        '--cascade=foreground',
        '--wait',
        `--timeout=${timeoutSeconds}s`,
      ],
      input: refsManifest(refs),
      timeoutSeconds: timeoutSeconds + 30,
    });
    return unserved;
  }

  const same = (a: ObjectRef[], b: ObjectRef[]) => JSON.stringify(a) === JSON.stringify(b);

  return {
    /** Server-side apply of an addon's manifest, recorded first; objects an earlier version had are pruned after. */
    async applyAddonObjects(i: ApplyAddonInput): Promise<ApplyAddonResult> {
      return withFailures(async () => {
        check(i.addon);
        const timeoutSeconds = i.timeoutSeconds ?? 120;
        const refs = manifestRefs(i.manifest);
        const keys = new Set(refs.map(refKey));
        const recorded = (await readRecord(i.via, i.cluster, i.addon)) ?? [];
        const stale = recorded.filter((r) => !keys.has(refKey(r)));
        let recordChanged = false;
        // First the record of everything this apply may leave behind, then the objects.
        const union = [...stale, ...refs];
        if (!same(union, recorded)) {
          await writeRecord(i, union);
          recordChanged = true;
        }
        // Objects of kinds the manifest's own CRDs define cannot be looked up (nor applied) before those CRDs
        // exist: kubectl maps every document to a resource first and stops at an unknown kind.
        const crds = refs.filter((r) => r.kind === CRD_KIND);
        const defined = definedGroups(i.manifest);
        const custom = (r: ObjectRef) => r.apiVersion.includes('/') && defined.has(r.apiVersion.split('/')[0]!);
        const crdsBefore = await versions(i.via, i.cluster, crds);
        const crdsExisted = crds.every((r) => crdsBefore.has(refKey(r)));
        const before = await versions(
          i.via,
          i.cluster,
          refs.filter((r) => crdsExisted || !custom(r)),
        );
        heartbeat({ applying: refs.length });
        // --force-conflicts: fields this addon sets are ours; a hand edit of them (another manager) is put back,
        // which is what converging an addon means. Fields we do not set stay the other managers'.
        const apply = ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '--force-conflicts', '-f', '-'];
        if (crds.length && !crdsExisted) {
          await kubectl({ via: i.via, cluster: i.cluster, args: apply, input: onlyCrds(i.manifest), timeoutSeconds });
          await kubectl({
            via: i.via,
            cluster: i.cluster,
            args: [
              'wait',
              '--for=condition=Established',
              ...crds.map((r) => `crd/${r.name}`),
              `--timeout=${timeoutSeconds}s`,
            ],
            timeoutSeconds: timeoutSeconds + 30,
          });
        }
        // Secrets the template left empty are filled on this worker (never in the workflow's input or history).
        const manifest = await fillAddonSecrets(i.manifest, { via: i.via, cluster: i.cluster, kubectl });
        await kubectl({ via: i.via, cluster: i.cluster, args: apply, input: manifest, timeoutSeconds });
        const after = await versions(i.via, i.cluster, refs);
        const created: string[] = [];
        const updated: string[] = [];
        for (const r of refs) {
          const k = refKey(r);
          if (!before.has(k)) created.push(k);
          else if (before.get(k) !== after.get(k)) updated.push(k);
        }
        // Newest first, as remove: dependents before what they depend on.
        await deleteRefs(i.via, i.cluster, [...stale].reverse(), timeoutSeconds);
        if (stale.length) {
          await writeRecord(i, refs);
          recordChanged = true;
        }
        return { objects: refs.map(refKey), created, updated, pruned: stale.map(refKey), recordChanged };
      });
    },

    /** Rollouts finished and APIServices Available, each within what is left of the timeout. */
    async waitAddonReady(i: WaitAddonInput): Promise<{ ready: string[]; elapsedMs: number }> {
      return withFailures(async () => {
        check(i.addon);
        const t0 = deps.now();
        const ready: string[] = [];
        for (const r of i.waitFor) {
          const left = Math.max(1, Math.ceil(i.timeoutSeconds - (deps.now() - t0) / 1000));
          heartbeat({ waitingFor: refKey(r) });
          const ns = r.namespace ? ['-n', r.namespace] : [];
          const args =
            r.kind === 'APIService'
              ? ['wait', '--for=condition=Available', `apiservice/${r.name}`, `--timeout=${left}s`]
              : [...ns, 'rollout', 'status', `${r.kind.toLowerCase()}/${r.name}`, `--timeout=${left}s`];
          try {
            await kubectl({ via: i.via, cluster: i.cluster, args, timeoutSeconds: left + 30 });
          } catch (err) {
            throw new KubeadmHaError(
              `${i.addon}: ${refKey(r)} not ready after ${i.timeoutSeconds} s: ${(err as Error).message}`,
              FailureType.CommandFailed,
            );
          }
          ready.push(refKey(r));
        }
        return { ready, elapsedMs: deps.now() - t0 };
      });
    },

    /** Deletes an addon's node directories (a collector's buffers, a store's data), then its emptied parents. */
    async removeAddonHostPaths(i: RemoveAddonHostPathsInput): Promise<{ removed: string[] }> {
      return withFailures(async () => {
        check(i.addon);
        const base = `${ADDON_HOST_ROOT}/${i.addon}`;
        for (const p of i.paths)
          if (!p.startsWith(`${base}/`) || p.split('/').some((seg) => seg === '..' || seg === '.'))
            throw new InvalidInputError(`${p} is not a directory of addon ${i.addon} (under ${base}/)`);
        const session = deps.session(i.host);
        // Each path printed once it is gone; then the addon's and the addons' directories if nothing else is left.
        const r = await session.run(
          ['sh', '-c', 'for d in "$@"; do if [ -e "$d" ]; then rm -rf -- "$d"; echo "$d"; fi; done', 'sh', ...i.paths],
          { action: `remove ${i.addon}'s node directories`, timeoutMs: 300_000 },
        );
        await session.run(['rmdir', '--ignore-fail-on-non-empty', '--', base, ADDON_HOST_ROOT, '/var/lib/kubeadm2ha'], {
          action: `remove ${i.addon}'s emptied parent directories`,
          allowNonZero: true,
        });
        return { removed: r.stdout.trim().split('\n').filter(Boolean) };
      });
    },

    /** Deletes exactly what the record lists (newest first, waiting for dependents), then the record. */
    async removeAddonObjects(i: RemoveAddonInput): Promise<RemoveAddonResult> {
      return withFailures(async () => {
        check(i.addon);
        const timeoutSeconds = i.timeoutSeconds ?? 300;
        const recorded = await readRecord(i.via, i.cluster, i.addon);
        if (!recorded) return { recorded: false, deleted: [] };
        const newestFirst = [...recorded].reverse();
        heartbeat({ deleting: newestFirst.length });
        const unserved = new Set(await deleteRefs(i.via, i.cluster, newestFirst, timeoutSeconds));
        await deleteRefs(
          i.via,
          i.cluster,
          [{ apiVersion: 'v1', kind: 'ConfigMap', namespace: RECORD_NAMESPACE, name: recordName(i.addon) }],
          60,
        );
        const skipped = newestFirst.filter((r) => unserved.has(r));
        return {
          recorded: true,
          deleted: newestFirst.filter((r) => !unserved.has(r)).map(refKey),
          ...(skipped.length > 0 && {
            skipped: { objects: skipped.map(refKey), kinds: [...new Set(skipped.map(kindKey))] },
          }),
        };
      });
    },
  };
}
