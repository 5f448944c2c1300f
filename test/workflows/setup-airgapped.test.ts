// Issue 13's "done when", air-gapped: setupCluster, then upgradeCluster, with cluster.images.airGapped on the
// real-Kubernetes lab (hosts with no route but the lab's /24, no pod network: createK8sLab cni 'none'), 1 master + 1
// worker with flannel and stacked etcd (kubeadm runs etcd on the master from <imageRepository>/etcd, so that image
// is pushed, and the upgrade moves it 3.5.24-0 → 3.6.5-0), set up at the lab's previous version and upgraded to the
// current one. Each run pushes the version's whole set as its child workflow `images` (setup: after containerd is
// configured, before any kubeadm step; upgrade: before the first master), kubeadm's list with etcd, the sandbox image
// and flannel's, to the hosts over SSH. Both sources are used: setup's worker fills its store from an OCI archive of
// the version's images, as a site without any registry carries them in; the upgrade's from the lab registry (from the
// root namespace, over loopback, never across the lab's links). One capture per host veth, filtered to the
// registry's address and port, runs for each whole run and must see no packet from a host (nor, for setup, one on
// loopback from the worker); the same veths see the run's SSH (the captures listened), loopback sees the upgrade's
// fill; at the end the same filter sees the kubelet pull an image no push brought (the filter can fail). Then: nodes
// Ready, every pod (etcd's too) Running on an image containerd holds by a pushed digest, the kubelet never reported a
// pull, nothing left the lab.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { get } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { DeliverImagesResult, FillImageStoreResult } from '../../src/activities/images.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { kubeadmConstants } from '../../src/images/kubeadm-images.js';
import { imagesFor, planImageList } from '../../src/plan/images.js';
import { K8S_LAB_VERSIONS } from '../../lab/k8s-binaries.js';
import { bridgeName } from '../../lab/names.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import type { UpgradeResult } from '../../src/workflows/upgrade.js';
import { uniqueQueue } from '../e2e/helpers.js';
import { ADMIN, captureOnHosts, explain, runHelloPod } from '../support/k8s-cluster.js';
import { labShell } from '../support/lab-shell.js';
import { labSuite } from '../support/lab-suite.js';
import { runOnLabWorker } from '../support/lab-worker.js';
import { pollUntil } from '../support/poll.js';
import { flannelLabInventory, phaseSeconds, secretsIn } from '../support/setup-run.js';
import { capture, type Capture } from '../support/tcpdump.js';

const FROM = K8S_LAB_VERSIONS.previous;
const TO = K8S_LAB_VERSIONS.current;

let lanes: { leaving: Capture; inside: Capture } | undefined;
const suite = labSuite({
  name: 'setup-airgapped',
  lab: { hosts: 2, cni: 'none', version: FROM, versions: [FROM, TO] },
  inventory: (lab) => {
    const base = flannelLabInventory(lab, (i) => (i === 1 ? ['primary-master'] : ['worker']));
    // containerd stays pointed at the lab registry (as the lab and the inventory configure it): a host that pulled
    // would succeed, and the capture would see it.
    return {
      ...base,
      cluster: {
        ...base.cluster,
        etcd: { ...base.cluster.etcd, mode: 'stacked' },
        images: { airGapped: true, source: { kind: 'registry', plainHttp: [lab.kubernetes.registry] } },
      },
    };
  },
  ready: async ({ lab }) => {
    // As captureLabTraffic, but a single master's keepalived speaks VRRP by multicast and joins its group by IGMP
    // (224.0.0.18, 224.0.0.22): link-local multicast, never routed (RFC 5771), so not traffic leaving the lab.
    const own = `10.200.${lab.id}.0/24`;
    lanes = {
      leaving: capture(bridgeName(lab.id), `ip and not dst net ${own} and not dst net 224.0.0.0/24`),
      inside: capture(bridgeName(lab.id), `ip and dst net ${own}`),
    };
    await Promise.all([lanes.leaving.listening, lanes.inside.listening]);
  },
  cleanUp: [() => Promise.all([lanes?.leaving.stop(), lanes?.inside.stop()])],
});
const sh = (host: string, cmd: string): Promise<string> => labShell(suite.lab)(host, cmd);
/** Manifest and config digest of every image a push brought, by reference (setup's and upgrade's). */
const pushed = new Map<string, { manifest: string; config: string }>();

/** A host asking the lab registry for anything: TCP to the registry's address and port, sent by a host. */
const toRegistry = (): string => {
  const [address, port] = suite.lab.kubernetes.registry.split(':');
  return `tcp and dst host ${address} and dst port ${port}`;
};

/** This machine's TCP connections to the registry in any state but TIME-WAIT (which sends nothing unless asked): one
 * that is still closing (the archive's last download, say) would send a packet or two into the next capture. */
const registryConnections = async (): Promise<string> =>
  (
    await promisify(execFile)('ss', [
      '-Htn',
      'state',
      'connected',
      'exclude',
      'time-wait',
      'dst',
      suite.lab.kubernetes.registry,
    ])
  ).stdout.trim();

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

interface Watched<R> {
  result: R;
  ms: number;
  workflowId: string;
  /** Packets from the hosts to the registry, and SSH packets from the worker to the hosts, during the run. */
  registryPackets: number;
  sshPackets: number;
  registrySample: string[];
  /** Packets from the worker's machine to the registry (over loopback: the registry listens on the bridge address). */
  workerPackets: number;
  workerSample: string[];
}

/** One run of `workflowType` on a fresh lab worker, with both per-veth captures around exactly that run. */
async function watched<R>(
  name: string,
  workflowType: string,
  input: { inventory: Inventory } & Record<string, unknown>,
): Promise<Watched<R>> {
  await pollUntil(
    async () => (await registryConnections()) === '',
    'no connection to the registry left open',
    60_000,
    200,
  );
  const worker = capture('lo', toRegistry());
  const [pulls, ssh] = await Promise.all([
    captureOnHosts(suite.lab, toRegistry()),
    captureOnHosts(suite.lab, `tcp and src host ${suite.lab.bridgeAddress} and dst port 22`),
    worker.listening,
  ]);
  const taskQueue = uniqueQueue(name);
  const workflowId = `${suite.inventory.cluster.name}/${name}/${taskQueue}`;
  try {
    const { result, ms } = await runOnLabWorker<R>({
      temporal: suite.temporal,
      bundle: suite.bundle,
      inventory: input.inventory,
      workflowType,
      args: [input],
      taskQueue,
      workflowId,
    });
    const [registryPackets, sshPackets, workerPackets] = await Promise.all([pulls.stop(), ssh.stop(), worker.stop()]);
    return {
      result,
      ms,
      workflowId,
      registryPackets,
      sshPackets,
      registrySample: pulls.printed,
      workerPackets,
      workerSample: worker.printed,
    };
  } finally {
    await Promise.all([pulls.stop(), ssh.stop(), worker.stop()]);
  }
}

/** GET over a connection of its own, closed once answered (no keep-alive socket left to close during a capture). */
function httpGet(url: string, accept?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, headers: accept ? { accept } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`${url}: ${res.statusCode}`)),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * What an air-gapped site carries in: an OCI layout directory holding `refs` (index.json naming each by
 * org.opencontainers.image.ref.name, as `skopeo copy docker://REF oci:DIR:REF` writes it), copied here from the lab
 * registry with its own v2 API, every blob checked against its digest.
 */
async function ociArchive(refs: readonly string[], dir: string): Promise<number> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  let bytes = 0;
  const put = async (url: string, digest: string, accept?: string): Promise<Buffer> => {
    const body = await httpGet(url, accept);
    const got = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    if (digest && got !== digest) throw new Error(`${url}: ${got}, not ${digest}`);
    await writeFile(join(dir, 'blobs', 'sha256', got.slice(7)), body);
    bytes += body.length;
    return body;
  };
  const manifests = [];
  for (const ref of refs) {
    const m = /^([^/]+)\/(.+):([^:/]+)$/.exec(ref)!;
    const base = `http://${m[1]}/v2/${m[2]}`;
    const body = await put(`${base}/manifests/${m[3]}`, '', 'application/vnd.oci.image.manifest.v1+json');
    const manifest = JSON.parse(body.toString('utf8')) as {
      mediaType?: string;
      config: { digest: string };
      layers: { digest: string }[];
    };
    for (const b of [manifest.config, ...manifest.layers]) await put(`${base}/blobs/${b.digest}`, b.digest);
    manifests.push({
      mediaType: manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${createHash('sha256').update(body).digest('hex')}`,
      size: body.length,
      annotations: { 'org.opencontainers.image.ref.name': ref },
    });
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
  return bytes;
}

interface ChildPush {
  result: RunbookResult;
  fill: FillImageStoreResult;
  /** deliverImages results of the import phase, by host. */
  imports: Record<string, DeliverImagesResult>;
  /** [host, from, bytes, ms] of each relay round's delivery. */
  relays: [string, string, number, number][];
  start: number;
  close: number;
}

/** The images child of run `workflowId` (`<run>/images`): its result and when it ran. */
async function childPush(workflowId: string): Promise<ChildPush> {
  const child = suite.temporal.client.workflow.getHandle(`${workflowId}/images`);
  const result = (await child.result()) as RunbookResult;
  const d = await child.describe();
  const fill = result.steps.find((s) => s.step === 'fillImageStore')!.result as FillImageStoreResult;
  for (const i of fill.images) pushed.set(i.ref, { manifest: i.manifest.digest, config: i.blobs[0]!.digest });
  const delivered = (phase: string) =>
    result.steps
      .filter((s) => s.step === 'deliverImages' && s.phase.startsWith(phase))
      .map((s) => s.result as DeliverImagesResult);
  return {
    result,
    fill,
    imports: Object.fromEntries(delivered('import').map((r) => [r.host, r])),
    relays: delivered('deliver').map((r) => [r.host, r.from, r.bytesSent, r.ms]),
    start: d.startTime.getTime(),
    close: d.closeTime!.getTime(),
  };
}

/** The push delivered `version`'s whole list, and each node's import phase lists what it needs by the pushed digest. */
function expectWholeSet(p: ChildPush, version: string): void {
  const list = planImageList(suite.inventory, version, { addons: false });
  expect(p.fill.images.map((i) => i.ref).sort()).toEqual(list.map((i) => i.ref).sort());
  expect(list.map((i) => i.source)).toContain('pod-network');
  expect(list.some((i) => /\/pause:/.test(i.ref))).toBe(true);
  expect(list.map((i) => i.ref)).toContain(etcdRef(version));
  // Imported in the background during its relay round, so the import phase itself may have nothing left to import.
  for (const h of suite.inventory.hosts)
    expect(Object.fromEntries(p.imports[h.name]!.verified.map((v) => [v.ref, v.digest])), h.name).toEqual(
      Object.fromEntries(imagesFor(h, list).map((ref) => [ref, pushed.get(ref)!.manifest])),
    );
}

/** Every pod Running with all containers Ready (polled: after an upgrade old pods are still going away). */
const allPodsRunning = () =>
  explain(
    suite.lab,
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

/** Each running container's image is one a push brought: the kubelet reports the digest it resolved (the manifest's,
 * or the config's for an image containerd holds without a repo digest). Returns the images seen. */
async function expectPodsOnPushedImages(): Promise<string[]> {
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
  for (const [image, id] of running) {
    const p = pushed.get(image!);
    expect(p && [p.manifest, p.config].some((d) => id!.endsWith(d)), `${image} ${id}`).toBe(true);
  }
  return running.map(([image]) => image!);
}

/** The Pulling events a kubelet leaves when it pulls (kept an hour): none while only pushed images were needed. */
const pullingEvents = async (): Promise<string> =>
  (await sh('h1', `${ADMIN} get events -A --field-selector reason=Pulling --no-headers 2>&1`)).replace(
    /^No resources found\.?\n?$/,
    '',
  );

/** The etcd image kubeadm runs (stacked) at `version`. */
const etcdRef = (version: string): string =>
  `${suite.inventory.cluster.imageRepository}/etcd:${kubeadmConstants(version).etcd}`;

/** An inventory taking its images from the OCI archive at `dir` instead of the lab registry. */
const fromArchive = (dir: string): Inventory => ({
  ...suite.inventory,
  cluster: { ...suite.inventory.cluster, images: { airGapped: true, source: { kind: 'oci-layout', dir } } },
});

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join('/');

describe(`air-gapped setup (${FROM}) and upgrade (${TO}) on the real-Kubernetes lab: 1 master + 1 worker, flannel`, () => {
  let setupRun: Watched<RunbookResult>;
  let setupPush: ChildPush;

  it('setup from an OCI archive: the images child pushes the whole set (etcd too) before any kubeadm step; neither the hosts nor the worker send the registry one packet', async () => {
    for (const h of suite.lab.hosts) expect(await sh(h.name, 'ip -4 route show default'), h.name).toBe('');
    // The site's archive of the version's images; setup takes them from it (cluster.images.source).
    const archiveBytes = await ociArchive(
      planImageList(suite.inventory, FROM, { addons: false }).map((i) => i.ref),
      join(suite.scratch, 'archive-setup'),
    );
    const startedAt = Date.now();
    setupRun = await watched<RunbookResult>('setup', 'setupCluster', {
      inventory: fromArchive(join(suite.scratch, 'archive-setup')),
    });
    setupPush = await childPush(setupRun.workflowId);
    const { result } = setupRun;
    process.stderr.write(
      `[air-gapped] setup at ${FROM}, 2 hosts: ${setupRun.ms} ms (load ${load()}); images child ` +
        `${setupPush.close - setupPush.start} ms: ${setupPush.fill.images.length} images, set ` +
        `${setupPush.fill.uniqueBytes} bytes, sent ${JSON.stringify(setupPush.relays)} (archive ${archiveBytes} ` +
        `bytes); phases (s): ` +
        `${JSON.stringify(phaseSeconds(result, startedAt))}; packets host→registry ${setupRun.registryPackets}, ` +
        `worker→registry ${setupRun.workerPackets}, ` +
        `worker→hosts SSH ${setupRun.sshPackets}\n`,
    );
    // Started once containerd was configured on every node, done before the first step after that phase.
    const at = (f: (s: RunbookResult['steps'][number]) => boolean) =>
      result.steps.filter(f).map((s) => Date.parse(s.at));
    expect(setupPush.start).toBeGreaterThanOrEqual(Math.max(...at((s) => s.step === 'configureContainerd')));
    expect(setupPush.close).toBeLessThanOrEqual(Math.min(...at((s) => s.phase !== 'nodes')));
    expect(at((s) => s.step === 'kubeadmInit')).toHaveLength(1);
    expectWholeSet(setupPush, FROM);
    // The captures listened (they saw the run's SSH on the same veths) and saw no host ask the registry.
    expect(setupRun.sshPackets).toBeGreaterThan(100);
    expect(setupRun.registryPackets, setupRun.registrySample.join('\n')).toBe(0);
    expect(setupRun.workerPackets, setupRun.workerSample.join('\n')).toBe(0);
    expect(
      secretsIn(JSON.stringify(await suite.temporal.client.workflow.getHandle(setupRun.workflowId).fetchHistory())),
    ).toEqual([]);
  }, 1_800_000);

  it('the cluster works on pushed images only: both nodes Ready, every pod Running on a pushed digest, containerd holds each needed image by it, its sandbox image is the pushed pause, no Pulling event', async () => {
    await allPodsRunning();
    const nodes = await sh(
      'h1',
      `${ADMIN} get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'`,
    );
    expect(nodes.trim().split('\n').sort()).toEqual(['h1 True', 'h2 True']);
    const list = planImageList(suite.inventory, FROM, { addons: false });
    const pause = list.find((i) => /\/pause:/.test(i.ref))!.ref;
    for (const h of suite.inventory.hosts) {
      const got = await listed(h.name);
      for (const ref of imagesFor(h, list)) expect(got[ref], `${h.name}: ${ref}`).toBe(pushed.get(ref)!.manifest);
      expect(await sh(h.name, "grep -o 'sandbox_image = .*' /etc/containerd/config.toml")).toBe(
        `sandbox_image = "${pause}"\n`,
      );
    }
    // Stacked etcd runs on h1 from the etcd image the push brought.
    expect(await expectPodsOnPushedImages()).toContain(etcdRef(FROM));
    expect(await pullingEvents()).toBe('');
  }, 600_000);

  it(`upgrade to ${TO} from the registry: the images child pushes the target's set before the first master; the hosts send the registry not one packet; every node at ${TO} on pushed images, etcd at the target's tag`, async () => {
    const run = await watched<UpgradeResult>('upgrade', 'upgradeCluster', {
      inventory: suite.inventory,
      target: TO,
      approved: true,
    });
    const p = await childPush(run.workflowId);
    const firstMaster = run.result.steps.filter((s) => s.phase === 'first-master').map((s) => Date.parse(s.at));
    process.stderr.write(
      `[air-gapped] upgrade to ${TO}: ${run.ms} ms (load ${load()}); images child ${p.close - p.start} ms: ` +
        `${p.fill.images.length} images, set ${p.fill.uniqueBytes} bytes, fetched ${p.fill.fetchedBytes}, sent ` +
        `${JSON.stringify(p.relays)}; packets host→registry ${run.registryPackets}, ` +
        `worker→registry ${run.workerPackets}, worker→hosts SSH ${run.sshPackets}\n`,
    );
    expect(firstMaster.length).toBeGreaterThan(0);
    expect(p.close).toBeLessThanOrEqual(Math.min(...firstMaster));
    expectWholeSet(p, TO);
    expect(run.result.after.map((n) => `${n.name} ${n.kubelet} ${n.ready}`).sort()).toEqual([
      `h1 ${TO} true`,
      `h2 ${TO} true`,
    ]);
    expect(run.sshPackets).toBeGreaterThan(100);
    expect(run.registryPackets, run.registrySample.join('\n')).toBe(0);
    // The worker did read the registry (its store's fill, over loopback): the loopback capture sees such traffic.
    expect(run.workerPackets).toBeGreaterThan(100);

    await allPodsRunning();
    const images = await expectPodsOnPushedImages();
    expect(images).toContain(`${suite.inventory.cluster.imageRepository}/kube-apiserver:v${TO}`);
    expect(images).toContain(`${suite.inventory.cluster.imageRepository}/kube-proxy:v${TO}`);
    expect(images).toContain(etcdRef(TO));
    expect(await pullingEvents()).toBe('');
  }, 1_800_000);

  it('control: the same filter sees the kubelet pull an image no push brought (and its Pulling event)', async () => {
    const control = await captureOnHosts(suite.lab, toRegistry());
    let packets: number;
    try {
      await runHelloPod(sh, { name: 'hello', node: 'h2', imageRepository: suite.lab.kubernetes.imageRepository });
    } finally {
      packets = await control.stop();
    }
    process.stderr.write(`[air-gapped] control: the kubelet pulled hello:1 on h2, ${packets} packets host→registry\n`);
    expect(packets).toBeGreaterThan(5);
    expect(await pullingEvents()).toContain('hello:1');
  }, 300_000);

  it('sent nothing to any address outside the lab', async () => {
    const [leaving, inside] = await Promise.all([lanes!.leaving.stop(), lanes!.inside.stop()]);
    expect(inside).toBeGreaterThan(1000);
    expect(leaving, lanes!.leaving.printed.join('\n')).toBe(0);
  });
});
