// The images kubeadm asks for, built here from the binaries we compiled (no pulls), then pushed to the lab
// registry under the names kubeadm expects for a custom imageRepository — what an air-gapped user does with their
// own mirror. Names and tags come from the real kubeadm (`kubeadm config images list`), so a new Kubernetes version
// brings its own CoreDNS and pause tags without a table here to update.
//
// Each image is one layer, laid out like upstream's: control-plane commands at /usr/local/bin/<name> (kubeadm's
// static pods and kube-proxy DaemonSet name them by that path or by PATH), pause at /pause, coredns at /coredns.
// kube-proxy also needs iptables (and nft for its nftables mode): upstream's base image is Debian's iptables
// userland (registry.k8s.io/build-image/distroless-iptables), so we copy this Debian machine's, with its libraries.
//
// Built layouts are cached per version under cacheDir('k8s', version, 'images', name); a done-marker records the
// sha256 of every input file and the image spec, so a rebuilt binary rebuilds its image and nothing else.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { buildImage, ociArchitecture, type BuildImageOptions, type ImageFile } from '../../src/images/oci-layout.js';
import { HostFiles, lddPaths, type HostFileSet } from '../../src/images/host-files.js';
import { pushImage, remoteManifestDigest } from '../../src/images/registry-client.js';
import { cacheDir } from '../../src/paths.js';
import { FLANNEL_IMAGE } from '../../src/templates/flannel.js';
import { METRICS_SERVER_IMAGE, METRICS_SERVER_VERSION } from '../../src/templates/addons/metrics-server.js';
import { MONITORING_IMAGES } from '../../src/templates/addons/monitoring.js';
import { VICTORIALOGS_IMAGE, VICTORIALOGS_VERSION, VLAGENT_IMAGE } from '../../src/templates/addons/logging.js';

const run = promisify(execFile);

/** Bump when the way images are put together changes: every cached image is rebuilt. */
const BUILDER_VERSION = 1;

/** Binaries not from the Kubernetes build (lab/k8s/extras.ts builds them); any may be missing. */
export interface K8sImageExtras {
  pause?: string;
  coredns?: string;
  /** Version of the coredns binary (e.g. 1.12.1): it is only pushed under that tag. */
  corednsVersion?: string;
  /** The lab's test workload (an HTTP server); pushed as <repository>/hello:1. */
  hello?: string;
  /** etcd, etcdctl and etcdutl built by etcd-binaries.ts, for stacked etcd (kubeadm's local etcd static pod). */
  etcd?: { binDir: string; version: string };
  /** CoreDNS and etcd builds at the versions older kubeadms ask for (1.33: CoreDNS 1.12.0, etcd 3.5.24): an image is
   * only ever tagged with the version of the binary inside it. */
  otherCoredns?: { version: string; path: string }[];
  otherEtcd?: { binDir: string; version: string }[];
  /** flanneld, install-conf and the CNI plugin built by flannel-binaries.ts; pushed as <repository>/flannel:v<version>
   * (the pod network of src/templates/flannel.ts). */
  flannel?: { binDir: string; version: string };
  /** metrics-server built by metrics-server-binaries.ts; pushed under its upstream path,
   * <repository>/metrics-server/metrics-server:v<version> (the `metrics` addon, src/templates/addons). */
  metricsServer?: { binDir: string; version: string };
  /** The monitoring addon's five binaries (monitoring-binaries.ts), pushed under their upstream paths:
   * <repository>/prometheus-operator/prometheus-operator:v<version>, …/prometheus/prometheus:v<version>, … */
  monitoring?: { binDir: string };
  /** victoria-logs and vlagent built by logging-binaries.ts; pushed under their upstream paths below docker.io,
   * <repository>/victoriametrics/{victoria-logs,vlagent}:v<version> (the `logging` addon). */
  logging?: { binDir: string; version: string };
}

export interface EnsureK8sImagesOptions {
  /** The seven Kubernetes commands (ensureK8sBinaries().binDir). */
  binDir: string;
  extras?: K8sImageExtras;
  /** Only these images (kubeadm names: kube-apiserver, pause, hello…); default all we can build. */
  only?: string[];
  /** gzip level of the layers. Default 1: on two shared cores it halves a cold build (2.5 s instead of 4.9 s for
   * kube-apiserver) for 11% more bytes, which only ever cross the lab bridge. */
  gzipLevel?: number;
  log?: (line: string) => void;
}

export interface K8sImage {
  /** kube-apiserver, pause, coredns, hello… */
  name: string;
  tag: string;
  layoutDir: string;
  manifestDigest: string;
  /** Compressed layer bytes (what a pull moves) and the unpacked size. */
  layerSize: number;
  uncompressedSize: number;
  /** False when the cache had it. */
  built: boolean;
  ms: number;
}

export interface K8sImages {
  version: string;
  images: K8sImage[];
  /** Images kubeadm lists that we do not build, and why. */
  skipped: { name: string; tag: string; reason: string }[];
  /** Full reference of an image under an imageRepository like 10.200.5.1:5000/k8s. */
  refs: Record<string, (imageRepository: string) => string>;
  ms: number;
}

const CONTROL_PLANE = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'] as const;
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const HELLO_TAG = '1';
/** The metrics addon's image under the lab's repository: upstream's path below registry.k8s.io (imageRef's rule). */
export const METRICS_SERVER_LAB_IMAGE = {
  name: METRICS_SERVER_IMAGE.upstream.slice('registry.k8s.io/'.length).split(':')[0]!,
  tag: `v${METRICS_SERVER_VERSION}`,
};

/** The monitoring addon's images under the lab's repository (upstream's path below quay.io, imageRef's rule), with
 * the binary each runs and upstream's working directory (Prometheus keeps its data in /prometheus). */
export const MONITORING_LAB_IMAGES = (
  [
    { image: MONITORING_IMAGES.operator, binary: 'operator' },
    { image: MONITORING_IMAGES.configReloader, binary: 'prometheus-config-reloader' },
    { image: MONITORING_IMAGES.prometheus, binary: 'prometheus', workingDir: '/prometheus' },
    { image: MONITORING_IMAGES.alertmanager, binary: 'alertmanager', workingDir: '/alertmanager' },
    { image: MONITORING_IMAGES.nodeExporter, binary: 'node_exporter' },
  ] as const
).map((m) => {
  const [path, tag] = m.image.upstream.slice(m.image.upstream.indexOf('/') + 1).split(':');
  return { name: path!, tag: tag!, binary: m.binary, workingDir: 'workingDir' in m ? m.workingDir : undefined };
});

/** The logging addon's images under the lab's repository: upstream's path below docker.io (imageRef's rule), with
 * upstream's entrypoints (/victoria-logs-prod, /vlagent-prod). */
export const LOGGING_LAB_IMAGES = [VICTORIALOGS_IMAGE, VLAGENT_IMAGE].map((i) => {
  const [name, tag] = i.upstream.slice('docker.io/'.length).split(':') as [string, string];
  const binary = name.slice(name.lastIndexOf('/') + 1);
  return { name, tag, binary, entrypoint: `/${binary}-prod` };
});

/** Builds (or finds cached) every image kubeadm needs at `version` that we can make, plus the test image. */
export async function ensureK8sImages(version: string, opts: EnsureK8sImagesOptions): Promise<K8sImages> {
  const t0 = performance.now();
  const v = version.replace(/^v/, '');
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const listed = await kubeadmImages(opts.binDir, v);
  const skipped: K8sImages['skipped'] = [];
  const specs: { name: string; tag: string; spec: () => Promise<BuildImageOptions> }[] = [];
  for (const { name, tag } of listed) {
    const wanted = !opts.only || opts.only.includes(name);
    if ((CONTROL_PLANE as readonly string[]).includes(name)) {
      if (wanted) specs.push({ name, tag, spec: () => controlPlaneSpec(opts.binDir, name) });
    } else if (name === 'pause' || name === 'coredns') {
      const bin = opts.extras?.[name];
      const corednsVersion = opts.extras?.corednsVersion;
      const other = name === 'coredns' ? opts.extras?.otherCoredns?.find((c) => `v${c.version}` === tag) : undefined;
      if (other) {
        if (wanted)
          specs.push({ name, tag, spec: () => Promise.resolve(singleBinarySpec(other.path, '/coredns', name)) });
      } else if (!bin) skipped.push({ name, tag, reason: `no ${name} binary given (extras.${name})` });
      else if (name === 'coredns' && corednsVersion && tag !== `v${corednsVersion}`) {
        // kubeadm 1.33 asks for v1.12.0; ours is 1.12.1 and is not relabelled: it goes in under its own tag, and
        // such a cluster names it (ClusterConfiguration `dns: { imageTag: v1.12.1 }`).
        skipped.push({ name, tag, reason: `kubeadm asks for coredns ${tag}; the lab has v${corednsVersion}` });
        const own = `v${corednsVersion}`;
        if (wanted)
          specs.push({ name, tag: own, spec: () => Promise.resolve(singleBinarySpec(bin, '/coredns', name)) });
      } else if (wanted)
        specs.push({ name, tag, spec: () => Promise.resolve(singleBinarySpec(bin, `/${name}`, name)) });
    } else if (name === 'etcd') {
      // Stacked etcd: kubeadm's local-etcd static pod runs `etcd` with 3.6-era flags (Debian's 3.4 rejects
      // --feature-gates=InitialCorruptCheck=true), so the image carries our etcd build — only under the tag of
      // that very version (kubeadm 1.34 asks for 3.6.5-0; 1.33's 3.5.24-0 would be a lie with a 3.6.5 binary).
      const builds = [...(opts.extras?.etcd ? [opts.extras.etcd] : []), ...(opts.extras?.otherEtcd ?? [])];
      const etcd = builds.find((b) => tag.startsWith(`${b.version}-`));
      if (!builds.length) skipped.push({ name, tag, reason: 'no etcd binaries given (extras.etcd)' });
      else if (!etcd) {
        const built = builds.map((b) => b.version).join(', ');
        skipped.push({ name, tag, reason: `kubeadm asks for etcd ${tag}; the lab builds etcd ${built}` });
      } else if (wanted) specs.push({ name, tag, spec: () => Promise.resolve(etcdSpec(etcd.binDir)) });
    } else {
      skipped.push({ name, tag, reason: 'kubeadm lists an image this builder does not know' });
    }
  }
  const hello = opts.extras?.hello;
  if (hello && (!opts.only || opts.only.includes('hello'))) {
    specs.push({ name: 'hello', tag: HELLO_TAG, spec: () => Promise.resolve(singleBinarySpec(hello, '/hello')) });
  }
  const flannel = opts.extras?.flannel;
  if (flannel && (!opts.only || opts.only.includes(FLANNEL_IMAGE.name))) {
    if (`v${flannel.version}` !== FLANNEL_IMAGE.tag) {
      throw new Error(`flannel binaries are ${flannel.version}; the manifest template runs ${FLANNEL_IMAGE.tag}`);
    }
    specs.push({ name: FLANNEL_IMAGE.name, tag: FLANNEL_IMAGE.tag, spec: () => flannelSpec(flannel.binDir) });
  }

  const metricsServer = opts.extras?.metricsServer;
  if (metricsServer && (!opts.only || opts.only.includes(METRICS_SERVER_LAB_IMAGE.name))) {
    if (metricsServer.version !== METRICS_SERVER_VERSION) {
      throw new Error(
        `metrics-server binary is ${metricsServer.version}; the addon template runs ${METRICS_SERVER_VERSION}`,
      );
    }
    const bin = join(metricsServer.binDir, 'metrics-server');
    specs.push({
      ...METRICS_SERVER_LAB_IMAGE,
      spec: () => Promise.resolve(singleBinarySpec(bin, '/metrics-server', 'metrics-server')),
    });
  }

  const monitoring = opts.extras?.monitoring;
  if (monitoring) {
    for (const m of MONITORING_LAB_IMAGES) {
      if (opts.only && !opts.only.includes(m.name)) continue;
      specs.push({
        name: m.name,
        tag: m.tag,
        spec: () => Promise.resolve(monitoringSpec(join(monitoring.binDir, m.binary), m.binary, m.workingDir)),
      });
    }
  }

  const logging = opts.extras?.logging;
  if (logging) {
    if (logging.version !== VICTORIALOGS_VERSION)
      throw new Error(`VictoriaLogs binaries are ${logging.version}; the addon template runs ${VICTORIALOGS_VERSION}`);
    for (const img of LOGGING_LAB_IMAGES.filter((i) => !opts.only || opts.only.includes(i.name)))
      specs.push({
        name: img.name,
        tag: img.tag,
        spec: () => Promise.resolve(singleBinarySpec(join(logging.binDir, img.binary), img.entrypoint)),
      });
  }

  const images: K8sImage[] = [];
  for (const s of specs) {
    images.push(await ensureImage(v, s.name, s.tag, await s.spec(), opts.gzipLevel ?? 1, log));
  }
  const refs: K8sImages['refs'] = {};
  for (const img of images) refs[img.name] = (repo) => `${repo.replace(/\/+$/, '')}/${img.name}:${img.tag}`;
  const ms = Math.round(performance.now() - t0);
  const built = images.filter((i) => i.built);
  log(
    `images ${v}: ${images.length} ready in ${ms} ms (${built.length} built: ${built.map((i) => `${i.name} ${i.ms} ms`).join(', ') || 'none'})`,
  );
  return { version: v, images, skipped, refs, ms };
}

/** `kubeadm config images list` for `version`, under a placeholder repository we strip again. */
export async function kubeadmImages(binDir: string, version: string): Promise<{ name: string; tag: string }[]> {
  const repo = 'k2h.invalid/k8s';
  const { stdout } = await run(join(binDir, 'kubeadm'), [
    'config',
    'images',
    'list',
    '--kubernetes-version',
    `v${version}`,
    '--image-repository',
    repo,
  ]);
  return stdout
    .trim()
    .split('\n')
    .map((line) => {
      const m = /^k2h\.invalid\/k8s\/([a-z0-9][a-z0-9._-]*):([A-Za-z0-9_][A-Za-z0-9._-]*)$/.exec(line.trim());
      if (!m) throw new Error(`kubeadm config images list: unexpected line '${line}'`);
      return { name: m[1]!, tag: m[2]! };
    });
}

/** What every image gets: the few files a distroless base has, so Go's user and resolver lookups behave. */
function baseFiles(): Pick<BuildImageOptions, 'files' | 'dirs'> {
  return {
    files: [
      {
        path: '/etc/passwd',
        content: Buffer.from(
          'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n',
        ),
        mode: 0o644,
      },
      { path: '/etc/group', content: Buffer.from('root:x:0:\nnogroup:x:65534:\n'), mode: 0o644 },
      { path: '/etc/nsswitch.conf', content: Buffer.from('hosts: files dns\n'), mode: 0o644 },
    ],
    dirs: [
      { path: '/tmp', mode: 0o1777 },
      { path: '/root', mode: 0o700 },
      { path: '/run', mode: 0o755 },
    ],
  };
}

/** One static binary at `path`, run as the entrypoint (pause, coredns, hello). */
function singleBinarySpec(source: string, path: string, upstream?: string): BuildImageOptions {
  const base = baseFiles();
  return {
    files: [...base.files, { path, source, mode: 0o755 }],
    dirs: base.dirs,
    // Upstream's pause runs as 65535; coredns's upstream image is non-root with a file capability to bind :53,
    // which our layers do not carry, so it stays root here (kubeadm's Deployment drops all capabilities but
    // NET_BIND_SERVICE either way).
    // metrics-server's upstream image (distroless static) runs as nobody.
    config: {
      entrypoint: [path],
      env: [PATH_ENV],
      ...(upstream === 'pause' && { user: '65535:65535' }),
      ...(upstream === 'metrics-server' && { user: '65534' }),
    },
    os: 'linux',
    architecture: ociArchitecture(),
  };
}

/** Like upstream's Prometheus-project images (quay.io/prometheus…, busybox or distroless based): the binary at
 * /bin/<name> as the entrypoint (the operator's StatefulSets and our manifests pass only arguments), run as nobody,
 * Prometheus and Alertmanager in their data directory. */
function monitoringSpec(source: string, name: string, workingDir?: string): BuildImageOptions {
  const base = baseFiles();
  return {
    files: [...base.files, { path: `/bin/${name}`, source, mode: 0o755 }],
    dirs: [...(base.dirs ?? []), ...(workingDir ? [{ path: workingDir, mode: 0o777 }] : [])],
    config: {
      entrypoint: [`/bin/${name}`],
      env: [PATH_ENV],
      user: '65534',
      ...(workingDir && { workingDir }),
    },
    os: 'linux',
    architecture: ociArchitecture(),
  };
}

/** Like upstream's etcd image: the commands in /usr/local/bin, run by the manifest's `command: [etcd, …]`. etcdctl
 * and etcdutl when built (the module proxy serves only the server module of etcd 3.5.24; kubeadm runs only etcd). */
function etcdSpec(binDir: string): BuildImageOptions {
  const base = baseFiles();
  return {
    ...base,
    files: [
      ...base.files,
      ...['etcd', 'etcdctl', 'etcdutl']
        .filter((b) => b === 'etcd' || existsSync(join(binDir, b)))
        .map((b) => ({
          path: `/usr/local/bin/${b}`,
          source: join(binDir, b),
          mode: 0o755,
        })),
    ],
    config: { env: [PATH_ENV] },
    os: 'linux',
    architecture: ociArchitecture(),
  };
}

async function controlPlaneSpec(binDir: string, name: string): Promise<BuildImageOptions> {
  const base = baseFiles();
  const files: ImageFile[] = [
    ...base.files,
    { path: `/usr/local/bin/${name}`, source: join(binDir, name), mode: 0o755 },
  ];
  const symlinks: BuildImageOptions['symlinks'] = [];
  if (name === 'kube-proxy') {
    const got = await netfilterUserland('kube-proxy');
    files.push(...got.files);
    symlinks.push(...got.symlinks);
  }
  return {
    files,
    symlinks,
    dirs: base.dirs,
    // No entrypoint: kubeadm's manifests give `command: [kube-apiserver, …]`, found through PATH.
    config: { env: [PATH_ENV] },
    os: 'linux',
    architecture: ociArchitecture(),
  };
}

/**
 * This machine's iptables (legacy and nft variants, with -save/-restore), nft and conntrack with their libraries and
 * iptables' dlopen()ed extensions: the userland upstream's images get from Debian (distroless-iptables for
 * kube-proxy; flannel's image installs iptables and nftables too).
 */
async function netfilterUserland(image: string): Promise<HostFileSet> {
  const host = new HostFiles();
  for (const tool of ['iptables', 'ip6tables']) {
    for (const variant of ['', '-legacy', '-nft']) {
      for (const suffix of ['', '-save', '-restore']) {
        const p = `/usr/sbin/${tool}${variant}${suffix}`;
        if (existsSync(p)) await host.add(p);
      }
    }
  }
  // kube-proxy's nftables mode runs `nft`; conntrack (when installed) for clearing UDP entries on old versions.
  for (const p of ['/usr/sbin/nft', '/usr/sbin/conntrack']) if (existsSync(p)) await host.add(p);
  // iptables' match and target plugins are dlopen()ed from libxtables' directory, so ldd cannot see them.
  const libxtables = (
    await lddPaths(['/usr/sbin/xtables-nft-multi', '/usr/sbin/xtables-legacy-multi'].filter(existsSync))
  ).find((l) => basename(l).startsWith('libxtables.so'));
  if (libxtables) {
    const dir = join(dirname(await realpath(libxtables)), 'xtables');
    for (const f of (await readdir(dir)).sort()) if (f.endsWith('.so')) await host.add(join(dir, f));
  }
  await host.addLibraries();
  const got = host.result();
  if (!got.files.some((f) => f.path.endsWith('/xtables-nft-multi') || f.path.endsWith('/xtables-legacy-multi'))) {
    throw new Error(`${image} image: iptables is not installed on this machine (apt-get install iptables)`);
  }
  return got;
}

/** Upstream's flannel image layout (/opt/bin/flanneld, /opt/bin/install-conf) plus the CNI plugin at /flannel, where
 * upstream's separate flannel-cni-plugin image has it; iptables for --ip-masq and the forward rules. */
async function flannelSpec(binDir: string): Promise<BuildImageOptions> {
  const base = baseFiles();
  const net = await netfilterUserland('flannel');
  return {
    files: [
      ...base.files,
      { path: '/opt/bin/flanneld', source: join(binDir, 'flanneld'), mode: 0o755 },
      { path: '/opt/bin/install-conf', source: join(binDir, 'install-conf'), mode: 0o755 },
      { path: '/flannel', source: join(binDir, 'flannel'), mode: 0o755 },
      ...net.files,
    ],
    symlinks: net.symlinks,
    dirs: base.dirs,
    config: { entrypoint: ['/opt/bin/flanneld'], env: [PATH_ENV] },
    os: 'linux',
    architecture: ociArchitecture(),
  };
}

interface DoneMarker {
  key: string;
  /** sha256 of each source file with the stat it had, so an unchanged file (same inode, size, mtime and ctime) is
   * not read again: a warm check of 250 MB of binaries costs stats, not seconds of hashing. */
  sources?: SourceDigest[];
  manifestDigest: string;
  layerSize: number;
  uncompressedSize: number;
}

async function ensureImage(
  version: string,
  name: string,
  tag: string,
  spec: BuildImageOptions,
  gzipLevel: number,
  log: (line: string) => void,
): Promise<K8sImage> {
  const t0 = performance.now();
  const dir = cacheDir('k8s', version, 'images', name);
  const layoutDir = join(dir, 'oci');
  const markerFile = join(dir, 'done.json');
  const marker = await readFile(markerFile, 'utf8')
    .then((s) => JSON.parse(s) as DoneMarker)
    .catch(() => undefined);
  const sources = await sourceDigests(spec, marker?.sources ?? []);
  const key = cacheKey(spec, tag, gzipLevel, sources);
  if (marker?.key === key && existsSync(join(layoutDir, 'index.json'))) {
    if (JSON.stringify(marker.sources) !== JSON.stringify(sources))
      await writeMarker(markerFile, { ...marker, sources });
    return { name, tag, layoutDir, ...pick(marker), built: false, ms: Math.round(performance.now() - t0) };
  }
  log(`image ${name}:${tag}: building (${spec.files.length} files)`);
  const img = await buildImage(layoutDir, { ...spec, gzipLevel, refName: tag });
  const done: DoneMarker = {
    key,
    sources,
    manifestDigest: img.manifest.digest,
    layerSize: img.layer.size,
    uncompressedSize: img.layer.uncompressedSize,
  };
  // The marker after the layout: a crash in between only means one more build.
  await writeMarker(markerFile, done);
  const ms = Math.round(performance.now() - t0);
  log(`image ${name}:${tag}: ${img.manifest.digest} ${img.layer.size} bytes in ${ms} ms`);
  return { name, tag, layoutDir, ...pick(done), built: true, ms };
}

async function writeMarker(file: string, m: DoneMarker): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, JSON.stringify(m, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
}

const pick = (m: DoneMarker): Pick<K8sImage, 'manifestDigest' | 'layerSize' | 'uncompressedSize'> => ({
  manifestDigest: m.manifestDigest,
  layerSize: m.layerSize,
  uncompressedSize: m.uncompressedSize,
});

interface SourceDigest {
  path: string;
  sha256: string;
  size: number;
  ino: number;
  mtimeNs: string;
  ctimeNs: string;
}

/** sha256 of every source file, reusing `known` where the file's stat is unchanged. */
async function sourceDigests(spec: BuildImageOptions, known: SourceDigest[]): Promise<SourceDigest[]> {
  const byPath = new Map(known.map((k) => [k.path, k]));
  const out: SourceDigest[] = [];
  for (const f of spec.files) {
    if (f.source === undefined) continue;
    const st = await stat(f.source, { bigint: true });
    const now = {
      path: f.source,
      size: Number(st.size),
      ino: Number(st.ino),
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
    };
    const k = byPath.get(f.source);
    const same =
      k && k.size === now.size && k.ino === now.ino && k.mtimeNs === now.mtimeNs && k.ctimeNs === now.ctimeNs;
    out.push({ ...now, sha256: same ? k.sha256 : await fileSha256(f.source) });
  }
  return out;
}

/** sha256 over the builder version, the spec (paths, modes, links, config) and every source file's sha256. */
function cacheKey(spec: BuildImageOptions, tag: string, gzipLevel: number, sources: SourceDigest[]): string {
  const digestOf = new Map(sources.map((s) => [s.path, s.sha256]));
  const files = spec.files.map((f) => ({
    path: f.path,
    mode: f.mode,
    digest: f.source !== undefined ? digestOf.get(f.source) : sha256(f.content ?? Buffer.alloc(0)),
  }));
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  return sha256(
    Buffer.from(
      JSON.stringify({
        builder: BUILDER_VERSION,
        tag,
        gzipLevel,
        files,
        symlinks: [...(spec.symlinks ?? [])].sort((a, b) => (a.path < b.path ? -1 : 1)),
        dirs: spec.dirs ?? [],
        config: spec.config,
        platform: [spec.os, spec.architecture],
      }),
    ),
  );
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), h);
  return h.digest('hex');
}

export interface PushK8sImagesOptions {
  images: K8sImages;
  /** http://10.200.5.1:5000 */
  registryUrl: string;
  /** Path under the registry kubeadm's imageRepository names (default k8s). */
  repository?: string;
  log?: (line: string) => void;
}

export interface PushedK8sImage {
  name: string;
  /** Full reference: 10.200.5.1:5000/k8s/kube-apiserver:v1.34.12 */
  ref: string;
  digest: string;
  uploadedBytes: number;
  /** True when the registry already had this exact manifest under the tag. */
  alreadyThere: boolean;
  ms: number;
}

/** Pushes every image to `<registry>/<repository>/<name>:<tag>`; returns their references. Idempotent. */
export async function pushK8sImages(o: PushK8sImagesOptions): Promise<{ pushed: PushedK8sImage[]; ms: number }> {
  const t0 = performance.now();
  const repository = o.repository ?? 'k8s';
  const host = new URL(o.registryUrl).host;
  const pushed: PushedK8sImage[] = [];
  for (const img of o.images.images) {
    const t = performance.now();
    const path = `${repository}/${img.name}:${img.tag}`;
    const ref = `${host}/${path}`;
    // A registry that already serves this manifest (shared storage across labs) needs no blob checks at all.
    if ((await remoteManifestDigest(o.registryUrl, path)) === img.manifestDigest) {
      pushed.push({ name: img.name, ref, digest: img.manifestDigest, uploadedBytes: 0, alreadyThere: true, ms: 0 });
      continue;
    }
    const res = await pushImage(img.layoutDir, o.registryUrl, path);
    if (res.digest !== img.manifestDigest) {
      throw new Error(`${ref}: pushed ${res.digest}, but the cache's marker says ${img.manifestDigest}`);
    }
    const ms = Math.round(performance.now() - t);
    pushed.push({ name: img.name, ref, digest: res.digest, uploadedBytes: res.uploadedBytes, alreadyThere: false, ms });
  }
  const ms = Math.round(performance.now() - t0);
  const bytes = pushed.reduce((n, p) => n + p.uploadedBytes, 0);
  o.log?.(`pushed ${pushed.length} images to ${o.registryUrl}/${repository} in ${ms} ms (${bytes} bytes uploaded)`);
  return { pushed, ms };
}
