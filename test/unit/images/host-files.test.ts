// HostFiles on this Debian machine's real iptables: the symlink chain with /etc/alternatives collapsed to the
// variant selected here, the multi-call binary, its libraries at their real (merged-/usr) paths, the loader, and
// the top-level links that make /lib64/ld-linux-x86-64.so.2 resolve inside an image.
import { existsSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostFiles, lddPaths } from '../../../src/images/host-files.js';

const hasIptables = existsSync('/usr/sbin/iptables') && existsSync('/etc/alternatives/iptables');

describe.runIf(hasIptables)('HostFiles', () => {
  it('copies iptables as Debian lays it out, without /etc/alternatives', async () => {
    const h = new HostFiles();
    await h.add('/usr/sbin/iptables');
    await h.addLibraries();
    const { files, symlinks } = h.result();
    const link = (p: string): string | undefined => symlinks.find((l) => l.path === p)?.target;

    // The variant this machine selected (iptables-nft or iptables-legacy), linked directly.
    const chosen = resolve('/etc/alternatives', readlinkSync('/etc/alternatives/iptables'));
    expect(link('/usr/sbin/iptables')).toBe(basename(chosen));
    expect(link(chosen)).toBe(readlinkSync(chosen));
    const multi = realpathSync('/usr/sbin/iptables');
    expect(files.map((f) => f.path)).toContain(multi);
    expect(files.find((f) => f.path === multi)?.mode).toBe(0o755);
    expect([...files, ...symlinks].some((e) => e.path.startsWith('/etc/alternatives'))).toBe(false);

    // Every library ldd names is there, reachable by the name ldd gave (through links), and the loader too.
    const libs = await lddPaths([multi]);
    expect(libs.some((l) => basename(l).startsWith('ld-linux'))).toBe(true);
    for (const lib of libs) {
      const real = realpathSync(lib);
      expect(files.map((f) => f.path)).toContain(real);
      const atRealDir = `${realpathSync(dirname(lib))}/${basename(lib)}`;
      if (atRealDir !== real) expect(link(atRealDir)).toBeDefined();
    }
    for (const top of ['/lib', '/lib64', '/bin', '/sbin']) {
      const t = readlinkSyncOrUndefined(top);
      if (t) expect(link(top)).toBe(t);
    }
  });

  it('adds no libraries for a static file and refuses a directory', async () => {
    expect(await lddPaths(['/etc/hostname'])).toEqual([]);
    const h = new HostFiles();
    await expect(h.add('/usr')).rejects.toThrow(/neither a file nor a symlink/);
  });
});

function readlinkSyncOrUndefined(p: string): string | undefined {
  try {
    return readlinkSync(p);
  } catch {
    return undefined;
  }
}
