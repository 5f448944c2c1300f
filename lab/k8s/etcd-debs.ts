// etcd as Debian packages for the lab's apt mirror, named like Debian's own (etcd-server, etcd-client), so the
// product installs it exactly as on a real Debian host: `apt-get install etcd-server=3.6.5-0k2h1 etcd-client=…`
// (src/activities/etcd.ts ensureEtcdInstalled picks the version whose upstream part is the pinned one).
//
// Contents: only what that workflow needs. It runs `command -v etcd` / `etcd --version` and `command -v etcdctl`,
// then writes its own config file (/etc/etcd/etcd.conf.yml) and its own service definition, and creates the data
// directory with mode 0700; the service runs as root. So the packages carry the binaries and nothing else of
// Debian's: no unit, no init script, no /etc/default/etcd, no etcd user, so installing one never starts an etcd the
// workflow did not configure (Debian's postinst starts one). Installed over Debian's etcd-server (every lab host has
// it: the hosts' /usr and /etc are overlays of this machine's), dpkg would keep Debian's init script and
// /etc/default/etcd as obsolete conffiles, an executable script that starts our etcd with Debian's settings; the
// maintainer scripts drop them the Debian way (dpkg-maintscript-helper rm_conffile) with their rc.d links. Debian's
// systemd unit goes with its old package; its enablement link is left alone, because on a host where kubeadm2ha
// already ran Debian's etcd that same link path enables kubeadm2ha's own etcd.service.
//   etcd-server: /usr/bin/etcd
//   etcd-client: /usr/bin/etcdctl, /usr/bin/etcdutl (snapshot restore and defrag offline, which etcdctl lost in 3.6)
// The Debian revision 0k2h1 sorts above Debian's own 3.4.23-4+bN (a higher upstream part) and below any Debian
// 3.6.5-1, so installing ours over bookworm's is an ordinary upgrade and a real Debian package would win.
import { join } from 'node:path';
import { cacheDir } from '../../src/paths.js';
import { run } from '../proc.js';
import { writeDeb, type DebSpec } from './deb-package.js';
import { cachedDebSet } from './deb-cache.js';
import { sha256File } from './debs.js';

export const ETCD_DEB_PACKAGES = ['etcd-server', 'etcd-client'] as const;
export type EtcdDebPackage = (typeof ETCD_DEB_PACKAGES)[number];

/** Debian revision of our packages: "0" sorts below a real Debian revision "1", "k2h1" names us and counts rebuilds. */
export const ETCD_DEB_REVISION = '0k2h1';

/** Every entry's mtime and dpkg-deb's SOURCE_DATE_EPOCH (2024-01-01T00:00:00Z): constant, so builds are identical. */
export const ETCD_DEB_EPOCH = 1704067200;

/** Bumped when the package contents or control fields change, so an old cache is rebuilt, not reused. */
const LAYOUT = 2;

const BINARIES = { 'etcd-server': ['etcd'], 'etcd-client': ['etcdctl', 'etcdutl'] } as const satisfies Record<
  EtcdDebPackage,
  readonly string[]
>;

export interface EtcdDeb {
  package: EtcdDebPackage;
  /** Debian version, e.g. 3.6.5-0k2h1. */
  version: string;
  architecture: string;
  /** Absolute path of the .deb in the cache. */
  file: string;
  sha256: string;
  size: number;
}

export interface EtcdDebs {
  /** etcd version, e.g. 3.6.5. */
  version: string;
  dir: string;
  debs: EtcdDeb[];
  /** True when the cache already held packages built from these very binaries. */
  cached: boolean;
  buildMs: Partial<Record<EtcdDebPackage, number>>;
}

export interface BuildEtcdDebsOptions {
  /** Default cacheDir('etcd', version, 'debs'). */
  outDir?: string;
  log?: (line: string) => void;
}

/** `3.6.5` -> `3.6.5-0k2h1`. */
export function etcdDebVersion(version: string): string {
  return `${version.replace(/^v/, '')}-${ETCD_DEB_REVISION}`;
}

/**
 * etcd-server and etcd-client for `version`, built from `binDir` (etcd, etcdctl, etcdutl; see etcd-binaries.ts)
 * into the cache, or the cached ones when they were built from binaries with the same sha256. A build goes to a
 * temporary directory renamed into place at the end, so a killed build never leaves a half-written package.
 */
export async function buildEtcdDebs(
  version: string,
  binDir: string,
  opts: BuildEtcdDebsOptions = {},
): Promise<EtcdDebs> {
  const v = version.replace(/^v/, '');
  if (!/^3\.\d+\.\d+$/.test(v)) throw new Error(`invalid etcd version '${version}': expected one like 3.6.5`);
  const dir = opts.outDir ?? cacheDir('etcd', v, 'debs');
  const log = opts.log ?? (() => {});
  const names = Object.values(BINARIES).flat();
  const binaries = Object.fromEntries(
    await Promise.all(names.map(async (b) => [b, await sha256File(join(binDir, b))] as const)),
  );

  let arch: Promise<string> | undefined;
  const set = await cachedDebSet<EtcdDeb>({
    dir,
    layout: LAYOUT,
    binaries,
    packages: ETCD_DEB_PACKAGES,
    build: async (pkg, tmp) => {
      arch ??= run('dpkg', ['--print-architecture']).then((r) => r.stdout.trim());
      return { ...(await writeDeb(specOf(pkg, v, await arch, binDir), tmp, ETCD_DEB_EPOCH)), package: pkg };
    },
    log,
  });
  return { version: v, dir, ...set };
}

function specOf(pkg: EtcdDebPackage, version: string, architecture: string, binDir: string): DebSpec {
  const common = {
    package: pkg,
    version: etcdDebVersion(version),
    architecture,
    maintainer: 'kubeadm2ha lab <kubeadm2ha-lab@localhost>',
    section: 'net',
    homepage: 'https://etcd.io',
  };
  const files: DebSpec['files'] = [
    ...BINARIES[pkg].map((b) => ({ path: `/usr/bin/${b}`, mode: 0o755, source: join(binDir, b) })),
    { path: `/usr/share/doc/${pkg}/copyright`, mode: 0o644, content: COPYRIGHT },
  ];
  const origin = `Built for the kubeadm2ha test lab from the etcd v${version} Go modules.`;
  return pkg === 'etcd-server'
    ? {
        ...common,
        summary: 'highly-available key value store -- daemon',
        description:
          "etcd, the server, as a static binary. Unlike Debian's package it ships no service, init script or\n" +
          `etcd user: kubeadm2ha writes the member's configuration and service itself.\n${origin}`,
        files,
        scripts: takeOverFromDebian(etcdDebVersion(version)),
      }
    : {
        ...common,
        summary: 'highly-available key value store -- client',
        description: `etcdctl, the client, and etcdutl, the offline data-directory tool, as static binaries.\n${origin}`,
        files,
      };
}

/** preinst, postinst and postrm of etcd-server: remove the conffiles of Debian's etcd-server (unless the admin
 * changed them: then dpkg-maintscript-helper keeps them as *.dpkg-bak) when upgrading from a version before ours. */
function takeOverFromDebian(debVersion: string): DebSpec['scripts'] {
  const rm = ['/etc/init.d/etcd', '/etc/default/etcd']
    .map((f) => `dpkg-maintscript-helper rm_conffile ${f} ${debVersion}~ etcd-server -- "$@"`)
    .join('\n');
  const script = (extra = '') => `#!/bin/sh\nset -e\n${rm}\n${extra}`;
  return {
    preinst: script(),
    // The init script is gone: its rc.d links (update-rc.d defaults in Debian's postinst) would dangle.
    postinst: script(
      'if [ "$1" = configure ] && [ ! -e /etc/init.d/etcd ] && command -v update-rc.d >/dev/null; then\n' +
        '  update-rc.d etcd remove >/dev/null 2>&1 || true\n' +
        'fi\n',
    ),
    postrm: script(),
  };
}

const COPYRIGHT = [
  'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
  'Upstream-Name: etcd',
  'Source: https://github.com/etcd-io/etcd',
  '',
  'Files: *',
  'Copyright: The etcd Authors',
  'License: Apache-2.0',
  ' On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.',
  '',
].join('\n');
