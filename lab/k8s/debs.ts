// kubeadm, kubelet and kubectl as Debian packages, so the lab installs Kubernetes the way operators do: `apt-get
// install kubeadm=1.34.12-1.1` from a repository (apt-repo.ts, served by apt-mirror.ts). Names, versions and file
// layout follow pkgs.k8s.io, so a workflow that works here works against the real repository:
//   kubectl: /usr/bin/kubectl
//   kubelet: /usr/bin/kubelet, the kubelet.service unit, /etc/kubernetes/manifests and /var/lib/kubelet
//   kubeadm: /usr/bin/kubeadm and the kubelet.service.d/10-kubeadm.conf drop-in (pkgs.k8s.io ships the drop-in with
//            kubeadm, not kubelet: it is how kubeadm drives the kubelet, and a kubelet without kubeadm must not get it)
// The packages are built once per version from the cached binaries (k8s-binaries.ts) and are byte-for-byte
// reproducible: fixed mtimes and SOURCE_DATE_EPOCH, root:root owners, a fixed file order (dpkg-deb sorts).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, rm, stat, utimes, writeFile, constants } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { KubernetesVersion } from '../../src/inventory/schema.js';
import { K8S_PACKAGE_REVISION } from '../../src/plan/package-version.js';
import { cacheDir } from '../../src/paths.js';
import { run } from '../proc.js';
import { cachedDebSet, debFileName } from './deb-cache.js';

export const K8S_DEB_PACKAGES = ['kubeadm', 'kubelet', 'kubectl'] as const;
export type K8sDebPackage = (typeof K8S_DEB_PACKAGES)[number];

/** pkgs.k8s.io's Debian revision for every release it publishes (1.34.12 -> 1.34.12-1.1). */
export const K8S_DEB_REVISION = K8S_PACKAGE_REVISION;

/** Every file in every package gets this mtime (2024-01-01T00:00:00Z) and dpkg-deb gets it as SOURCE_DATE_EPOCH:
 * a constant, not the build time, so two machines with the same binaries build identical .deb files. */
export const K8S_DEB_EPOCH = 1704067200;

/** Bumped when the package contents or control fields change, so an old cache is rebuilt, not reused. */
const LAYOUT = 1;

export interface K8sDeb {
  package: K8sDebPackage;
  /** Debian version, e.g. 1.34.12-1.1. */
  version: string;
  architecture: string;
  /** Absolute path of the .deb in the cache. */
  file: string;
  sha256: string;
  size: number;
}

export interface K8sDebs {
  /** Kubernetes version without the v, e.g. 1.34.12. */
  version: string;
  dir: string;
  debs: K8sDeb[];
  /** True when the cache already held packages built from these very binaries. */
  cached: boolean;
  /** Build time per package in ms (empty on a cache hit). */
  buildMs: Partial<Record<K8sDebPackage, number>>;
}

export interface BuildK8sDebsOptions {
  /** Default cacheDir('k8s', version, 'debs'). */
  outDir?: string;
  log?: (line: string) => void;
}

/** `1.34.12` -> `1.34.12-1.1`. */
export function k8sDebVersion(version: string): string {
  return `${version.replace(/^v/, '')}-${K8S_DEB_REVISION}`;
}

/** `1.34.12` -> `1.33.0`: kubeadm supports a kubelet (and kubectl) one minor older, which is how an upgrade goes
 * (new kubeadm first, `kubeadm upgrade`, then the kubelet), so kubeadm's Depends allow exactly that skew. */
export function previousMinorFloor(version: string): string {
  const [major, minor] = version.split('.').map(Number);
  if (major === undefined || minor === undefined || Number.isNaN(minor)) throw new Error(`bad version ${version}`);
  return `${major}.${Math.max(0, minor - 1)}.0`;
}

/**
 * The three packages for `version`, built from `binDir` (which holds kubeadm, kubelet, kubectl) into the cache,
 * or the cached ones when they were built from binaries with the same sha256. A build goes to a temporary
 * directory that is renamed into place at the end, so a killed build never leaves a half-written package behind.
 */
export async function buildK8sDebs(version: string, binDir: string, opts: BuildK8sDebsOptions = {}): Promise<K8sDebs> {
  const parsed = KubernetesVersion.safeParse(version);
  if (!parsed.success) throw new Error(`invalid Kubernetes version '${version}'`);
  const v = parsed.data;
  const dir = opts.outDir ?? cacheDir('k8s', v, 'debs');
  const log = opts.log ?? (() => {});
  const binaries = Object.fromEntries(
    await Promise.all(K8S_DEB_PACKAGES.map(async (p) => [p, await sha256File(join(binDir, p))] as const)),
  ) as Record<K8sDebPackage, string>;

  let arch: Promise<string> | undefined;
  const set = await cachedDebSet<K8sDeb>({
    dir,
    layout: LAYOUT,
    binaries,
    packages: K8S_DEB_PACKAGES,
    build: async (pkg, tmp) => {
      arch ??= run('dpkg', ['--print-architecture']).then((r) => r.stdout.trim());
      return buildOne(pkg, v, await arch, binDir, tmp);
    },
    log,
  });
  return { version: v, dir, ...set };
}

export { debFileName };

interface PackageSpec {
  section: string;
  summary: string;
  description: string;
  depends?: string;
  /** Extra files: path in the package -> contents. */
  files?: Record<string, string>;
  /** Empty directories the package owns. */
  dirs?: string[];
}

function specOf(pkg: K8sDebPackage, version: string): PackageSpec {
  const floor = previousMinorFloor(version);
  switch (pkg) {
    case 'kubeadm':
      return {
        section: 'admin',
        summary: 'Kubernetes cluster bootstrapping tool',
        description:
          'kubeadm creates, joins, upgrades and resets Kubernetes cluster nodes. This package also carries the\n' +
          'kubelet.service drop-in through which kubeadm configures the kubelet.',
        // The skew kubeadm supports during an upgrade: kubelet and kubectl may still be one minor older.
        depends: `kubelet (>= ${floor}), kubectl (>= ${floor})`,
        files: { '/lib/systemd/system/kubelet.service.d/10-kubeadm.conf': KUBEADM_DROP_IN },
      };
    case 'kubelet':
      return {
        section: 'net',
        summary: 'Kubernetes node agent',
        description: 'The kubelet runs on every node and starts the pods the control plane assigns to it.',
        // Tools the kubelet calls (iptables for its own chains, mount/umount, nsenter, ip). pkgs.k8s.io also
        // depends on kubernetes-cni, which Debian does not have: the lab's container runtime brings CNI plugins.
        depends: 'iptables, iproute2, mount, util-linux',
        files: { '/lib/systemd/system/kubelet.service': KUBELET_UNIT },
        dirs: ['/etc/kubernetes/manifests', '/var/lib/kubelet'],
      };
    case 'kubectl':
      return {
        section: 'admin',
        summary: 'Kubernetes command-line client',
        description: 'kubectl runs commands against Kubernetes clusters.',
      };
  }
}

async function buildOne(
  pkg: K8sDebPackage,
  version: string,
  arch: string,
  binDir: string,
  outDir: string,
): Promise<K8sDeb> {
  const debVersion = k8sDebVersion(version);
  const spec = specOf(pkg, version);
  const root = join(outDir, `root-${pkg}`);
  const paths: { path: string; mode: number }[] = [];
  const put = async (path: string, mode: number, write: (abs: string) => Promise<void>): Promise<void> => {
    const abs = join(root, path);
    await mkdir(dirname(abs), { recursive: true });
    await write(abs);
    paths.push({ path, mode });
  };

  await put(`/usr/bin/${pkg}`, 0o755, (abs) => copyFile(join(binDir, pkg), abs, constants.COPYFILE_FICLONE));
  for (const [path, text] of Object.entries(spec.files ?? {})) await put(path, 0o644, (abs) => writeFile(abs, text));
  await put(`/usr/share/doc/${pkg}/copyright`, 0o644, (abs) => writeFile(abs, copyright(pkg)));
  for (const d of spec.dirs ?? []) await mkdir(join(root, d), { recursive: true });

  // Installed-Size in KiB, as dpkg-gencontrol counts it: each file rounded up, plus one per directory.
  let kib = 0;
  for (const p of paths) kib += Math.ceil((await stat(join(root, p.path))).size / 1024);
  const dirs = new Set<string>();
  for (const p of [...paths.map((x) => x.path), ...(spec.dirs ?? []).map((d) => `${d}/x`)]) {
    for (let d = dirname(p); d !== '/'; d = dirname(d)) dirs.add(d);
  }
  kib += dirs.size;

  const control = [
    `Package: ${pkg}`,
    `Version: ${debVersion}`,
    `Architecture: ${arch}`,
    'Maintainer: kubeadm2ha lab <kubeadm2ha-lab@localhost>',
    `Installed-Size: ${kib}`,
    ...(spec.depends ? [`Depends: ${spec.depends}`] : []),
    `Section: ${spec.section}`,
    'Priority: optional',
    'Homepage: https://kubernetes.io',
    `Description: ${spec.summary}`,
    ...`${spec.description}\nBuilt for the kubeadm2ha test lab from the Kubernetes v${version} sources.`
      .split('\n')
      .map((l) => ` ${l}`),
    '',
  ].join('\n');
  await mkdir(join(root, 'DEBIAN'), { recursive: true });
  await writeFile(join(root, 'DEBIAN', 'control'), control);

  // Fixed modes (not the umask's) and mtimes on everything, directories included.
  for (const p of paths) await chmod(join(root, p.path), p.mode);
  await chmod(join(root, 'DEBIAN', 'control'), 0o644);
  for (const d of [...dirs, '/DEBIAN']) await chmod(join(root, d), 0o755);
  await chmod(root, 0o755);
  for (const p of [...paths.map((x) => x.path), '/DEBIAN/control', ...dirs, '/DEBIAN', '/']) {
    await utimes(join(root, p), K8S_DEB_EPOCH, K8S_DEB_EPOCH);
  }

  const file = join(outDir, debFileName(pkg, debVersion, arch));
  // gzip -6: about 2.5x faster than dpkg-deb's default -9 for 1% larger files, and unlike zstd every dpkg reads it.
  await run('nice', ['-n', '19', 'dpkg-deb', '--root-owner-group', '-Zgzip', '-z6', '--build', root, file], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(K8S_DEB_EPOCH) },
  });
  await rm(root, { recursive: true, force: true });
  const [sha256, st] = await Promise.all([sha256File(file), stat(file)]);
  return { package: pkg, version: debVersion, architecture: arch, file, sha256, size: st.size };
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (chunk) => h.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

function copyright(pkg: string): string {
  return [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    `Upstream-Name: ${pkg}`,
    'Source: https://github.com/kubernetes/kubernetes',
    '',
    'Files: *',
    'Copyright: The Kubernetes Authors',
    'License: Apache-2.0',
    ' On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.',
    '',
  ].join('\n');
}

/** The kubelet on its own: no flags, so until kubeadm has written its configuration the kubelet exits and systemd
 * restarts it every 10 s (the documented "crashloop until kubeadm init/join"). */
export const KUBELET_UNIT = `[Unit]
Description=kubelet: the Kubernetes node agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target
# Never give up restarting: the kubelet is expected to fail until the node is configured.
StartLimitIntervalSec=0

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
`;

/** The drop-in kubeadm relies on: kubeadm writes the files, this turns them into kubelet flags. */
export const KUBEADM_DROP_IN = `# From the kubeadm package: the kubelet reads what kubeadm init/join write.
[Service]
# Bootstrap credentials (join) and the node's own kubeconfig once it has one.
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
# The KubeletConfiguration kubeadm writes from the cluster's kubelet-config ConfigMap.
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# Per-node flags kubeadm works out at init/join time (sets KUBELET_KUBEADM_ARGS).
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# The operator's own flags (sets KUBELET_EXTRA_ARGS); last on the command line, so they win.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;
