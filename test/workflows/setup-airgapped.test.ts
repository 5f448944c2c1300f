// Issue 13's "done when", air-gapped: setupCluster with cluster.images.airGapped on the real-Kubernetes lab (hosts
// with no route but the lab's /24, no pod network: createK8sLab cni 'none'), 1 master + 1 worker with flannel. The
// setup runs `images push` as its child workflow after containerd is configured and before kubeadm init: the worker
// fills its store from the lab registry (from the root namespace, over loopback, never across the lab's links) and
// hands the version's whole set (kubeadm's list, the sandbox image, flannel's) to the hosts over SSH. One capture
// per host veth, filtered to the registry's address and port, runs for the whole setup and must see no packet from a
// host; afterwards the same filter must see the kubelet pull an image the push did not bring (the filter can fail),
// and the same veths saw the push's SSH (the captures listened). Then: both nodes Ready, kube-system and flannel pods
// Running on images containerd holds by the pushed digests, the kubelet never reported a pull, nothing left the lab.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliverImagesResult, FillImageStoreResult } from '../../src/activities/images.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { imagesFor, planImageList } from '../../src/plan/images.js';
import { createK8sLab, type K8sLab } from '../../lab/k8s/k8s-lab.js';
import { loadWorkflowBundle } from '../../src/temporal/bundle.js';
import { CODEC_ENV } from '../../src/temporal/data-converter.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import { connectTemporal, uniqueQueue } from '../e2e/helpers.js';
import { cleanUp } from '../support/clean-up.js';
import { setEnv } from '../support/env.js';
import { ADMIN, captureOnHosts, explain, runHelloPod } from '../support/k8s-cluster.js';
import { bridgeName } from '../../lab/names.js';
import { labShell } from '../support/lab-shell.js';
import { runOnLabWorker } from '../support/lab-worker.js';
import { pollUntil } from '../support/poll.js';
import { flannelLabInventory, phaseSeconds, secretsIn } from '../support/setup-run.js';
import { capture, type Capture } from '../support/tcpdump.js';

let lab: K8sLab;
let inv: Inventory;
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let bundle: WorkflowBundleOption;
let scratch: string;
let restoreEnv: (() => void) | undefined;
let lanes: { leaving: Capture; inside: Capture } | undefined;
let pulls: Capture | undefined;
let ssh: Capture | undefined;
const sh = (host: string, cmd: string): Promise<string> => labShell(lab)(host, cmd);

/** A host asking the lab registry for anything: TCP to the registry's address and port, sent by a host. */
const toRegistry = (): string => {
  const [address, port] = lab.kubernetes.registry.split(':');
  return `tcp and dst host ${address} and dst port ${port}`;
};

/** What containerd on `host` lists in k8s.io: reference → manifest digest (read in the host, not by our code). */
async function listed(host: string): Promise<Record<string, string>> {
  return Object.fromEntries(
    (await sh(host, 'ctr -n k8s.io images ls'))
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/))
      .filter((f) => f[2]?.startsWith('sha256:'))
      .map((f) => [f[0]!, f[2]!]),
  );
}

let setupRun: { result: RunbookResult; ms: number; startedAt: number; workflowId: string } | undefined;
let push: RunbookResult | undefined;
let pushMs = 0;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'k2h-setup-airgapped-'));
  restoreEnv = setEnv({ KUBEADM2HA_STATE_DIR: join(scratch, 'state'), [CODEC_ENV]: 'off' });
  bundle = await loadWorkflowBundle();
  lab = await createK8sLab({ hosts: 2, cni: 'none' });
  const base = flannelLabInventory(lab, (i) => (i === 1 ? ['primary-master', 'etcd'] : ['worker']));
  // containerd stays pointed at the lab registry (as the lab and the inventory configure it): a host that pulled
  // would succeed, and the capture would see it.
  inv = {
    ...base,
    cluster: {
      ...base.cluster,
      images: { airGapped: true, source: { kind: 'registry', plainHttp: [lab.kubernetes.registry] } },
    },
  };
  // As captureLabTraffic, but a single master's keepalived speaks VRRP by multicast and joins its group by IGMP
  // (224.0.0.18, 224.0.0.22): link-local multicast, never routed (RFC 5771), so not traffic leaving the lab.
  const own = `10.200.${lab.id}.0/24`;
  lanes = {
    leaving: capture(bridgeName(lab.id), `ip and not dst net ${own} and not dst net 224.0.0.0/24`),
    inside: capture(bridgeName(lab.id), `ip and dst net ${own}`),
  };
  await Promise.all([lanes.leaving.listening, lanes.inside.listening]);
  [pulls, ssh] = await Promise.all([
    captureOnHosts(lab, toRegistry()),
    captureOnHosts(lab, `tcp and src host ${lab.bridgeAddress} and dst port 22`),
  ]);
  temporal = await connectTemporal();
}, 3_600_000);

afterAll(() =>
  cleanUp(
    () => Promise.all([lanes?.leaving.stop(), lanes?.inside.stop(), pulls?.stop(), ssh?.stop()]),
    () => temporal?.close(),
    () => lab?.destroy(),
    () => restoreEnv?.(),
    () => scratch && rm(scratch, { recursive: true, force: true }),
  ),
);

describe('setupCluster with airGapped on the real-Kubernetes lab (1 master + 1 worker, flannel)', () => {
  it('the images child pushes the whole set before kubeadm init; the hosts send the registry not one packet during setup', async () => {
    for (const h of lab.hosts) expect(await sh(h.name, 'ip -4 route show default'), h.name).toBe('');
    const taskQueue = uniqueQueue('setup');
    const workflowId = `${inv.cluster.name}/setup/${taskQueue}`;
    const startedAt = Date.now();
    const { result, ms } = await runOnLabWorker<RunbookResult>({
      temporal,
      bundle,
      inventory: inv,
      workflowType: 'setupCluster',
      args: [{ inventory: inv }],
      taskQueue,
      workflowId,
    });
    setupRun = { result, ms, startedAt, workflowId };
    const [registryPackets, sshPackets] = await Promise.all([pulls!.stop(), ssh!.stop()]);

    // The child ran as the setup's images phase, between containerd and the first kubeadm step.
    const child = temporal.client.workflow.getHandle(`${workflowId}/images`);
    const pushed = (await child.result()) as RunbookResult;
    push = pushed;
    const d = await child.describe();
    pushMs = (d.closeTime?.getTime() ?? NaN) - d.startTime.getTime();
    // Started once containerd was configured on every node, done before the first kubeadm (or etcd) step.
    const at = (f: (s: RunbookResult['steps'][number]) => boolean) =>
      result.steps.filter(f).map((s) => Date.parse(s.at));
    expect(d.startTime.getTime()).toBeGreaterThanOrEqual(Math.max(...at((s) => s.step === 'configureContainerd')));
    expect(d.closeTime!.getTime()).toBeLessThanOrEqual(Math.min(...at((s) => s.phase !== 'nodes')));
    expect(at((s) => s.step === 'kubeadmInit')).toHaveLength(1);
    const fill = pushed.steps.find((s) => s.step === 'fillImageStore')!.result as FillImageStoreResult;
    const imports = pushed.steps
      .filter((s) => s.step === 'deliverImages' && s.phase === 'import')
      .map((s) => s.result as DeliverImagesResult);
    const relays = pushed.steps
      .filter((s) => s.step === 'deliverImages' && s.phase.startsWith('deliver'))
      .map((s) => s.result as DeliverImagesResult);
    process.stderr.write(
      `[setup air-gapped] 2 hosts: setup ${ms} ms (load ${loadavg()
        .map((l) => l.toFixed(1))
        .join('/')}), images child ${pushMs} ms: ${fill.images.length} images, set ${fill.uniqueBytes} bytes, ` +
        `sent ${JSON.stringify(relays.map((r) => [r.host, r.from, r.bytesSent, r.ms]))}; phases (s): ` +
        `${JSON.stringify(phaseSeconds(result, startedAt))}; packets host→registry ${registryPackets}, ` +
        `operator→hosts SSH ${sshPackets}\n`,
    );

    // The whole set: kubeadm's list for the version (pause included, the sandbox image), flannel's image.
    const list = planImageList(inv, inv.cluster.kubernetesVersion, { addons: false });
    expect(fill.images.map((i) => i.ref).sort()).toEqual(list.map((i) => i.ref).sort());
    expect(list.map((i) => i.source)).toContain('pod-network');
    expect(list.some((i) => /\/pause:/.test(i.ref))).toBe(true);
    // Each node's import phase lists every image it needs by the digest the store holds (imported in the background
    // during its relay round, so the import phase itself may have had nothing left to import).
    const digests = Object.fromEntries(fill.images.map((i) => [i.ref, i.manifest.digest]));
    for (const h of inv.hosts) {
      const r = imports.find((i) => i.host === h.name)!;
      expect(Object.fromEntries(r.verified.map((v) => [v.ref, v.digest])), h.name).toEqual(
        Object.fromEntries(imagesFor(h, list).map((ref) => [ref, digests[ref]])),
      );
    }

    // The captures listened (they saw the push's SSH on the same veths) and saw no host ask the registry.
    expect(sshPackets).toBeGreaterThan(100);
    expect(registryPackets, pulls!.printed.join('\n')).toBe(0);
  }, 1_800_000);

  it('the cluster works: both nodes Ready, every kube-system and flannel pod Running', async () => {
    await explain(
      lab,
      () =>
        pollUntil(
          async () => {
            const pods = (await sh('h1', `${ADMIN} get pods -A --no-headers`)).trim().split('\n');
            return pods.length >= 8 && pods.every((l) => /\s(\d+)\/\1\s+Running\s/.test(l));
          },
          'every pod Running and Ready',
          300_000,
          1000,
        ),
      'kube-flannel|coredns|kube-proxy',
    );
    const nodes = await sh(
      'h1',
      `${ADMIN} get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'`,
    );
    expect(nodes.trim().split('\n').sort()).toEqual(['h1 True', 'h2 True']);
    expect(
      secretsIn(JSON.stringify(await temporal.client.workflow.getHandle(setupRun!.workflowId).fetchHistory())),
    ).toEqual([]);
  }, 600_000);

  it('containerd on each host holds every image it needs by the pushed digest; its sandbox image is the pushed pause; every pod runs on a pushed digest; the kubelet pulled nothing', async () => {
    const fill = push!.steps.find((s) => s.step === 'fillImageStore')!.result as FillImageStoreResult;
    const digests = Object.fromEntries(fill.images.map((i) => [i.ref, i.manifest.digest]));
    // The image's config digest (its image ID, what the kubelet reports for an image without a repo digest).
    const configs = Object.fromEntries(fill.images.map((i) => [i.ref, i.blobs[0]!.digest]));
    const list = planImageList(inv, inv.cluster.kubernetesVersion, { addons: false });
    const pause = list.find((i) => /\/pause:/.test(i.ref))!.ref;
    for (const h of inv.hosts) {
      const got = await listed(h.name);
      for (const ref of imagesFor(h, list)) expect(got[ref], `${h.name}: ${ref}`).toBe(digests[ref]);
      expect(await sh(h.name, "grep -o 'sandbox_image = .*' /etc/containerd/config.toml")).toBe(
        `sandbox_image = "${pause}"\n`,
      );
    }
    // The image each running container was started from (the kubelet reports the manifest digest it resolved).
    const running = (
      await sh(
        'h1',
        `${ADMIN} get pods -A -o jsonpath='{range .items[*]}{range .status.containerStatuses[*]}{.image} {.imageID}{"\\n"}{end}{end}'`,
      )
    )
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    expect(running.length).toBeGreaterThanOrEqual(7);
    for (const [image, id] of running)
      expect(
        [digests[image!], configs[image!]].some((d) => d && id!.endsWith(d)),
        `${image} ${id}`,
      ).toBe(true);
    // No kubelet reported pulling an image: the Pulling events a pull would leave (kept an hour) are not there.
    expect(await sh('h1', `${ADMIN} get events -A --field-selector reason=Pulling --no-headers 2>&1`)).toMatch(
      /^(No resources found\.?\n?)?$/,
    );
  }, 300_000);

  it('control: the same filter sees the kubelet pull an image the push did not bring (and the Pulling event shows)', async () => {
    const control = await captureOnHosts(lab, toRegistry());
    let packets: number;
    try {
      await runHelloPod(sh, { name: 'hello', node: 'h2', imageRepository: lab.kubernetes.imageRepository });
    } finally {
      packets = await control.stop();
    }
    process.stderr.write(
      `[setup air-gapped] control: the kubelet pulled hello:1 on h2, ${packets} packets host→registry\n`,
    );
    expect(packets).toBeGreaterThan(5);
    expect(await sh('h1', `${ADMIN} get events -n default --field-selector reason=Pulling --no-headers`)).toContain(
      'hello:1',
    );
  }, 300_000);

  it('sent nothing to any address outside the lab', async () => {
    const [leaving, inside] = await Promise.all([lanes!.leaving.stop(), lanes!.inside.stop()]);
    expect(inside).toBeGreaterThan(1000);
    expect(leaving, lanes!.leaving.printed.join('\n')).toBe(0);
  });
});
