// The real-Kubernetes variant of the lab, in one call: lab hosts that can run a kubelet, plus what an air-gapped
// datacenter gives its nodes — a registry holding the images kubeadm asks for (built here from the Kubernetes
// binaries, never pulled) and an apt mirror with kubeadm/kubelet/kubectl and etcd packages (built here as .debs).
// Both services sit on the lab bridge address and go away with the lab. The hosts get apt pointed at the mirror
// only, containerd pointed at the registry, and a kubelet unit waiting for kubeadm; installing the packages and
// running kubeadm is left to the caller (a test by plain commands, later the setup workflow).
import { join } from 'node:path';
import { ensureK8sBinaries, K8S_LAB_VERSIONS, type K8sBinaries } from '../k8s-binaries.js';
import { kubeadmConstants } from '../../src/images/kubeadm-images.js';
import type { FlannelValues } from '../../src/templates/flannel.js';
import type { LabInventoryOverrides } from '../inventory.js';
import { createLab, type Lab, type LabHost } from '../lab.js';
import { pollFor } from '../proc.js';
import { MAX_K8S_HOSTS, POD_RANGE_PREFIX, podRangeOf, podSubnetOf, serviceSubnetOf } from './addresses.js';
import { mirrorOnlyAptScript, startAptMirror } from './apt-mirror.js';
import { writeAptRepo } from './apt-repo.js';
import { buildK8sDebs, k8sDebVersion } from './debs.js';
import { ensureEtcdBinaries, ETCD_LAB_VERSION } from './etcd-binaries.js';
import { buildEtcdDebs, etcdDebVersion } from './etcd-debs.js';
import { ensureCoreDns, ensureK8sExtras } from './extras.js';
import { ensureFlannelBinaries } from './flannel-binaries.js';
import { ensureMetricsServerBinary } from './metrics-server-binaries.js';
import { ensureMonitoringBinaries } from './monitoring-binaries.js';
import { ensureLoggingBinaries } from './logging-binaries.js';
import { ensureK8sImages, pushK8sImages } from './images.js';
import { cniBinDirOf, CONTAINERD_READY, prepareK8sNode, START_KUBELET, STOP_KUBELET, type LabCni } from './node.js';
import { startLabRegistry } from './registry-server.js';
import { saveMachineSysctls } from './side-effects.js';

export interface CreateK8sLabOptions {
  hosts: number;
  /** The lab's Kubernetes version (default: the lab's current one); its pause image is the hosts' sandbox image. */
  version?: string;
  /** Every Kubernetes version the mirror and the registry serve: kubeadm/kubelet/kubectl packages and the images
   * `kubeadm config images list` names for each (CoreDNS, etcd and pause as that version wants them), built when
   * missing. An upgrade lab: `{ version: '1.33.13', versions: ['1.33.13', '1.34.12'] }`. Default: `version` only,
   * so other tests stay fast. */
  versions?: string[];
  /** Older spelling of `versions`: further versions besides `version`. */
  extraPackageVersions?: string[];
  detached?: boolean;
  /** 'static' (default): each host gets a fixed /28 of pods and routes to the others (no pod network to install).
   * 'none': hosts come up without any CNI configuration, like fresh nodes; the cluster needs a pod network — the
   * lab's registry then also holds flannel's image (kubernetes.flannel says how to deploy it). */
  cni?: LabCni;
  /** Addon images to build (when missing) and push, for addons that run with real images in the lab. */
  addons?: readonly ('metrics' | 'monitoring' | 'logging')[];
  log?: (line: string) => void;
}

export interface K8sLabInfo {
  /** Without the leading v, e.g. 1.34.12. */
  version: string;
  binaries: K8sBinaries;
  /** For ClusterConfiguration.imageRepository: <bridge>:5000/k8s. */
  imageRepository: string;
  /** host:port of the registry. */
  registry: string;
  /** For the inventory's cluster.packages.mirror. */
  aptMirror: string;
  /** Debian version of each packaged Kubernetes version, e.g. { '1.34.12': '1.34.12-1.1' }. */
  packageVersions: Record<string, string>;
  etcd: { version: string; packageVersion: string };
  serviceSubnet: string;
  podSubnet: string;
  /** The /28 each host's pods use with cni 'static' (with 'none', kube-controller-manager allocates the /28s). */
  podRange: (host: LabHost) => string;
  cni: LabCni;
  /** With cni 'none': the values for src/templates/flannel.ts's flannelManifest on this lab. */
  flannel?: FlannelValues;
  /** Seconds spent, for the notes: artifacts (cache hits are ~0), lab, services, hosts. */
  timings: Record<string, number>;
}

export interface K8sLab extends Lab {
  kubernetes: K8sLabInfo;
  /** `systemctl stop kubelet`: the unit and the kubelet stop (before `kubeadm reset`). */
  stopKubelet(host: string): Promise<void>;
  /** `systemctl start kubelet`. */
  startKubelet(host: string): Promise<void>;
}

export async function createK8sLab(opts: CreateK8sLabOptions): Promise<K8sLab> {
  const n = opts.hosts;
  if (!Number.isInteger(n) || n < 1 || n > MAX_K8S_HOSTS) {
    throw new Error(`a Kubernetes lab has 1..${MAX_K8S_HOSTS} hosts (one /28 of pods each), got ${n}`);
  }
  const bare = (v: string): string => v.replace(/^v/, '');
  const version = bare(opts.version ?? K8S_LAB_VERSIONS.current);
  const log = opts.log ?? ((l: string) => process.stderr.write(`k8s-lab: ${l}\n`));
  const cni = opts.cni ?? 'static';
  const timings: Record<string, number> = {};
  const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      timings[what] = Math.round(performance.now() - t0) / 1000;
    }
  };

  // Everything slow and cacheable first, before a lab exists: a cold build must not hold network namespaces.
  const versions = [
    ...new Set([version, ...[...(opts.versions ?? []), ...(opts.extraPackageVersions ?? [])].map(bare)]),
  ];
  const { binaries, images, imageSets, debs, etcdDebs } = await timed('artifacts', async () => {
    const binaries = await ensureK8sBinaries(version, { log });
    const extras = await ensureK8sExtras({ log });
    const etcd = await ensureEtcdBinaries(ETCD_LAB_VERSION, { log });
    const flannel = cni === 'none' ? await ensureFlannelBinaries({ log }) : undefined;
    // What an older kubeadm asks for besides: its own CoreDNS and stacked etcd (1.33: v1.12.0 and 3.5.24-0).
    const otherCoredns: { version: string; coredns: string }[] = [];
    const otherEtcd: { version: string; binDir: string }[] = [];
    for (const v of versions) {
      const { coredns, etcd: etcdTag } = kubeadmConstants(v);
      if (coredns !== `v${extras.corednsVersion}` && !otherCoredns.some((c) => `v${c.version}` === coredns))
        otherCoredns.push(await ensureCoreDns(coredns, { log }));
      const etcdVersion = etcdTag.replace(/-\d+$/, '');
      if (etcdVersion !== etcd.version && !otherEtcd.some((e) => e.version === etcdVersion))
        otherEtcd.push(await ensureEtcdBinaries(etcdVersion, { log }));
    }
    const metricsServer = opts.addons?.includes('metrics') ? await ensureMetricsServerBinary({ log }) : undefined;
    const monitoring = opts.addons?.includes('monitoring') ? await ensureMonitoringBinaries({ log }) : undefined;
    const logging = opts.addons?.includes('logging') ? await ensureLoggingBinaries({ log }) : undefined;
    const imageExtras = {
      ...extras,
      ...(logging && { logging: { binDir: logging.binDir, version: logging.version } }),
      ...(metricsServer && { metricsServer: { binDir: metricsServer.binDir, version: metricsServer.version } }),
      ...(monitoring && { monitoring: { binDir: monitoring.binDir } }),
      otherCoredns: otherCoredns.map((c) => ({ version: c.version, path: c.coredns })),
      otherEtcd: otherEtcd.map((e) => ({ version: e.version, binDir: e.binDir })),
      etcd: { binDir: etcd.binDir, version: etcd.version },
      ...(flannel && { flannel: { binDir: flannel.binDir, version: flannel.version } }),
    };
    const debs = [];
    const imageSets = [];
    for (const v of versions) {
      const b = v === version ? binaries : await ensureK8sBinaries(v, { log });
      debs.push(await buildK8sDebs(v, b.binDir, { log }));
      imageSets.push(await ensureK8sImages(v, { binDir: b.binDir, extras: imageExtras, log }));
    }
    const images = imageSets[0]!;
    const etcdDebs = await buildEtcdDebs(ETCD_LAB_VERSION, etcd.binDir, { log });
    return { binaries, images, imageSets, debs, etcdDebs };
  });

  const lab = await timed('lab', () => createLab({ hosts: n, detached: opts.detached ?? false }));
  try {
    // Before any kubelet runs: what it changes machine-wide is put back at teardown.
    saveMachineSysctls(lab.dir);
    const detached = opts.detached ?? false;
    const { registry, mirror, repo } = await timed('services', async () => {
      const repo = await writeAptRepo(join(lab.dir, 'apt'), [...debs.flatMap((d) => d.debs), ...etcdDebs.debs]);
      const [registry, mirror] = await Promise.all([
        startLabRegistry({ labDir: lab.dir, address: lab.bridgeAddress, detached }),
        startAptMirror({ labDir: lab.dir, address: lab.bridgeAddress, repoDir: repo.dir, detached }),
      ]);
      for (const set of imageSets)
        await pushK8sImages({ images: set, registryUrl: registry.url, repository: 'k8s', log });
      return { registry, mirror, repo };
    });
    const imageRepository = `${registry.host}/k8s`;
    const pauseRef = images.refs.pause;
    if (!pauseRef) throw new Error(`no pause image among the lab's images (${Object.keys(images.refs).join(', ')})`);
    const pauseImage = pauseRef(imageRepository);
    const aptScript = await mirrorOnlyAptScript({
      url: mirror.url,
      ...(repo.keyringFile && { keyringFile: repo.keyringFile }),
    });
    await timed('hosts', async () => {
      await Promise.all(
        lab.hosts.map(async (h) => {
          await lab.exec(h.name, aptScript);
          await prepareK8sNode(lab, h, lab.hosts, { registry: registry.host, pauseImage, cni });
        }),
      );
      const ready = await pollFor(
        async () => {
          const res = await Promise.all(lab.hosts.map((h) => lab.exec(h.name, CONTAINERD_READY, { allowFail: true })));
          return res.every((r) => r.code === 0);
        },
        30_000,
        100,
      );
      if (!ready) throw new Error(`containerd did not answer on every host within 30 s (see /var/log/containerd.log)`);
    });
    log(`lab ${lab.id} ready for Kubernetes ${version}: ${JSON.stringify(timings)}`);

    const kubernetes: K8sLabInfo = {
      version,
      binaries,
      imageRepository,
      registry: registry.host,
      aptMirror: mirror.url,
      packageVersions: Object.fromEntries(versions.map((v) => [v, k8sDebVersion(v)])),
      etcd: { version: ETCD_LAB_VERSION, packageVersion: etcdDebVersion(ETCD_LAB_VERSION) },
      serviceSubnet: serviceSubnetOf(lab.id),
      podSubnet: podSubnetOf(lab.id),
      podRange: (h) => podRangeOf(lab.id, h.index),
      cni,
      ...(cni === 'none' && {
        flannel: {
          network: podSubnetOf(lab.id),
          subnetLen: POD_RANGE_PREFIX,
          imageRepository,
          cniBinDir: cniBinDirOf(cni),
        },
      }),
      timings,
    };
    const plainInventory = lab.inventory.bind(lab);
    return Object.assign(lab, {
      kubernetes,
      // The inventory a user of this lab passes to kubeadm2ha: the lab's version, registry, mirror and ranges.
      inventory: (o: LabInventoryOverrides = {}) =>
        plainInventory({
          ...o,
          cluster: {
            kubernetesVersion: version,
            imageRepository,
            serviceSubnet: kubernetes.serviceSubnet,
            podSubnet: kubernetes.podSubnet,
            // Hosts without the static CNI need the controller manager to hand out the per-host /28s.
            ...(cni === 'none' && { nodeCidrMaskSize: POD_RANGE_PREFIX }),
            packages: { mirror: mirror.url },
            etcd: { mode: 'external', version: ETCD_LAB_VERSION },
            ...o.cluster,
          },
        }),
      async stopKubelet(host: string) {
        await lab.exec(host, STOP_KUBELET);
      },
      async startKubelet(host: string) {
        await lab.exec(host, START_KUBELET);
      },
    });
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}
