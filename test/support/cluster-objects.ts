// Every API object of a cluster, as comparable text: what "remove leaves the cluster as it was" and "a second apply
// changes nothing" are checked against. One `kubectl get` of every listable resource type (all namespaces), through
// jq on h1, one line per object: "<apiVersion> <kind> <namespace>/<name>\t<normalised JSON>".
//
// Left out, because they change on their own whatever an addon does:
//  - Events (core and events.k8s.io): written by every controller and kubelet all the time, and expire after 1 h;
//  - Leases (coordination.k8s.io): node heartbeats and leader election renew them every few seconds;
//  - the metrics.k8s.io group (NodeMetrics, PodMetrics): live readings, present only while metrics-server runs;
//  - in every object: metadata.resourceVersion and managedFields (their timestamps), which move with any status write;
//  - status of Nodes and Pods: heartbeat times, the list of images a node has pulled (an image stays cached on a
//    node after its addon is removed, as with any pulled image), and restart counts of control-plane pods that a
//    loaded 2-core machine makes lose leader election now and then;
//  - Node taints under node.kubernetes.io/ (not-ready, unreachable, …): the node lifecycle controller sets and
//    clears them from the node's health, so they are status written into spec. On a loaded lab a kubelet can
//    miss a heartbeat between two snapshots (CI saw h2 carry not-ready:NoExecute before an apply and not after);
//  - the times in status conditions (lastTransitionTime, lastUpdateTime, lastProbeTime, lastHeartbeatTime), with
//    each condition's type, status and reason still compared: a condition can flip and flip back between two
//    snapshots that both read it the same (CI saw APIService v1beta1.metrics.k8s.io Available at both, its
//    lastTransitionTime moved by 3 s: the aggregator's probe of metrics-server timed out once on a loaded lab).
// Everything else — every object's existence, spec, labels, annotations, data, rules, and status of other kinds
// (Deployments, APIServices, …) — must be equal.
import type { K8sLab } from '../../lab/k8s/k8s-lab.js';
import { ADMIN } from './k8s-cluster.js';
import { pollUntil } from './poll.js';

const SKIPPED_RESOURCES = ['events', 'events.events.k8s.io', 'leases.coordination.k8s.io'];
const SKIPPED_GROUP = /\.metrics\.k8s\.io$/;

const NORMALISE =
  '.items[] | del(.metadata.resourceVersion, .metadata.managedFields) ' +
  '| if (.kind == "Node" or .kind == "Pod") then del(.status) else . end ' +
  '| if (.status.conditions | type) == "array" then .status.conditions |= map(del(.lastTransitionTime, .lastUpdateTime, .lastProbeTime, .lastHeartbeatTime)) else . end ' +
  '| if .kind == "Node" then .spec.taints = [(.spec.taints // [])[] | select(.key | startswith("node.kubernetes.io/") | not)] else . end ' +
  '| [(.apiVersion + " " + .kind + " " + (.metadata.namespace // "") + "/" + .metadata.name), tojson] | @tsv';

export type ClusterObjects = Map<string, string>;

export async function clusterObjects(lab: K8sLab, host = 'h1'): Promise<ClusterObjects> {
  const types = (await lab.exec(host, `${ADMIN} api-resources --verbs=list -o name`)).stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s && !SKIPPED_RESOURCES.includes(s) && !SKIPPED_GROUP.test(s));
  const { stdout } = await lab.exec(host, `${ADMIN} get ${types.join(',')} -A -o json | jq -r '${NORMALISE}'`);
  const m: ClusterObjects = new Map();
  for (const line of stdout.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) m.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return m;
}

/**
 * The objects once the cluster has settled: two snapshots a moment apart that are equal. Right after setup or a
 * removal, controllers still write status (a DaemonSet's counts while its pods start); that is the cluster
 * converging, not a change an addon made, and comparing a snapshot taken mid-way would blame the addon for it.
 */
export async function settledClusterObjects(
  lab: K8sLab,
  o: { workloadsReady?: boolean } = {},
  timeoutMs = 180_000,
): Promise<ClusterObjects> {
  // For a baseline (not with an addon whose image cannot run), first every DaemonSet and Deployment at its count:
  // right after setup kube-proxy pods still start, and two equal snapshots 2 s apart can fall inside that wait.
  if (o.workloadsReady)
    await pollUntil(
      async () =>
        (
          await lab.exec(
            'h1',
            `${ADMIN} get ds,deploy -A -o json | jq '[.items[] | select((.status.numberReady // .status.readyReplicas // 0) < (.status.desiredNumberScheduled // .spec.replicas // 0))] | length'`,
          )
        ).stdout.trim() === '0',
      'every DaemonSet and Deployment ready',
      timeoutMs,
      1_000,
    );
  let last = await clusterObjects(lab);
  return pollUntil(
    async () => {
      const now = await clusterObjects(lab);
      const d = diffObjects(last, now);
      last = now;
      return d.gone.length + d.added.length + d.changed.length === 0 ? now : undefined;
    },
    'two equal snapshots of every API object (the cluster settled)',
    timeoutMs,
    2_000,
  );
}

/** Dot paths where two JSON values differ (for a readable failure message). */
export function changedPaths(a: unknown, b: unknown, path = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (
    typeof a !== 'object' ||
    typeof b !== 'object' ||
    a === null ||
    b === null ||
    Array.isArray(a) !== Array.isArray(b)
  )
    return [`${path || '.'}: ${JSON.stringify(a)?.slice(0, 200)} → ${JSON.stringify(b)?.slice(0, 200)}`];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) =>
    changedPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`),
  );
}

/** Objects only in `a`, only in `b`, and in both but different: empty lists when the two are equal. */
export function diffObjects(
  a: ClusterObjects,
  b: ClusterObjects,
): { gone: string[]; added: string[]; changed: string[] } {
  const gone = [...a.keys()].filter((k) => !b.has(k)).sort();
  const added = [...b.keys()].filter((k) => !a.has(k)).sort();
  const changed = [...a.keys()].filter((k) => b.has(k) && a.get(k) !== b.get(k)).sort();
  return { gone, added, changed };
}
