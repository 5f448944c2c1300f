// The upgrade's containerd sandbox image (issue 12, left over: kubeadm 1.34 warns when containerd's pause is not its
// own 3.10.1): withSandboxImage changes only that one setting of a config.toml, wherever the file's config version
// keeps it, and the host's real containerd (1.6, `containerd config dump`) reads the result back with the new image.
// containerd 2's version 3/4 layout is checked as text here; test/activities/containerd2.test.ts runs a real containerd 2.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configuredPins,
  dumpImports,
  normalizeImageRef,
  stalePins,
  effectiveSandboxImage,
  sandboxImageOf,
  withSandboxImage,
} from '../../../src/activities/containerd.js';
import { renderContainerdConfig } from '../../../src/templates/containerd.js';

const run = promisify(execFile);
const OLD = '10.200.7.1:5000/k8s/pause:3.10';
const NEW = '10.200.7.1:5000/k8s/pause:3.10.1';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k2h-sandbox-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** `containerd config dump` of the text: what containerd 1.6 would run with. */
async function dump(name: string, text: string): Promise<string> {
  const f = join(dir, name);
  await writeFile(f, text);
  return (await run('containerd', ['--config', f, 'config', 'dump'])).stdout;
}

const setupConfig = renderContainerdConfig({
  cgroupDriver: 'systemd',
  sandboxImage: OLD,
  restrictOomScoreAdj: false,
  cniBinDir: '/usr/lib/cni',
});

describe('withSandboxImage', () => {
  it("setup's config.toml (version 2): only the sandbox_image line changes; containerd reads the new image; again is a no-op", async () => {
    expect(await dump('before.toml', setupConfig)).toContain(`sandbox_image = "${OLD}"`);
    const next = withSandboxImage(setupConfig, NEW);
    const changed = next.split('\n').filter((l, i) => l !== setupConfig.split('\n')[i]);
    expect(changed).toEqual([`  sandbox_image = "${NEW}"`]);
    const out = await dump('after.toml', next);
    expect(out).toContain(`sandbox_image = "${NEW}"`);
    expect(out).toMatch(/SystemdCgroup = true/);
    expect(withSandboxImage(next, NEW)).toBe(next);
    expect(sandboxImageOf(next)).toBe(NEW);
    // The same value written another way is the same setting: no rewrite, no restart.
    const literal = next.replace(`"${NEW}"`, `'${NEW}'`);
    expect(withSandboxImage(literal, NEW)).toBe(literal);
  });

  it('a version 2 file without the setting gets it under its CRI table; no file gets a minimal one', async () => {
    const without =
      'version = 2\n\n[plugins."io.containerd.grpc.v1.cri"]\n  enable_selinux = false\n\n[plugins."io.containerd.grpc.v1.cri".cni]\n  bin_dir = "/usr/lib/cni"\n';
    const next = withSandboxImage(without, NEW);
    expect(next).toBe(without.replace('cri"]\n', `cri"]\n  sandbox_image = "${NEW}"\n`));
    expect(await dump('without.toml', next)).toContain(`sandbox_image = "${NEW}"`);
    const other = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri".cni]\n  bin_dir = "/usr/lib/cni"\n';
    expect(await dump('other.toml', withSandboxImage(other, NEW))).toContain(`sandbox_image = "${NEW}"`);
    const fresh = withSandboxImage('', NEW);
    expect(fresh).toBe(`version = 2\n\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "${NEW}"\n`);
    expect(await dump('fresh.toml', fresh)).toContain(`sandbox_image = "${NEW}"`);
  });

  it('a file without a version line (containerd 1.x version 1): [plugins.cri]', async () => {
    const v1 = `[plugins.cri]\n  sandbox_image = "${OLD}"\n  [plugins.cri.containerd]\n    snapshotter = "overlayfs"\n`;
    const next = withSandboxImage(v1, NEW);
    expect(next).toBe(v1.replace(OLD, NEW));
    expect(await dump('v1.toml', next)).toContain(`sandbox_image = "${NEW}"`);
  });

  it("containerd 2's version 3 and 4: sandbox under [plugins.'io.containerd.cri.v1.images'.pinned_images], either quote style", () => {
    const v3 = [
      'version = 3',
      '',
      "[plugins.'io.containerd.cri.v1.images']",
      "  snapshotter = 'overlayfs'",
      '',
      "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
      `  sandbox = '${OLD}'`,
      '',
      "[plugins.'io.containerd.cri.v1.runtime']",
      '',
    ].join('\n');
    expect(withSandboxImage(v3, NEW)).toBe(v3.replace(`sandbox = '${OLD}'`, `sandbox = "${NEW}"`));
    expect(withSandboxImage(v3, OLD)).toBe(v3);
    expect(sandboxImageOf(v3)).toBe(OLD);
    // containerd 2.3+ write version 4 (only server settings moved): the same place.
    const v4 = v3.replace('version = 3', 'version = 4');
    expect(withSandboxImage(v4, NEW)).toBe(v4.replace(`sandbox = '${OLD}'`, `sandbox = "${NEW}"`));
    const bare = "version = 3\n\n[plugins.'io.containerd.cri.v1.runtime']\n";
    expect(withSandboxImage(bare, NEW)).toBe(
      `${bare}\n[plugins."io.containerd.cri.v1.images".pinned_images]\n  sandbox = "${NEW}"\n`,
    );
  });
});

describe('effectiveSandboxImage and dumpImports (what setSandboxImage confirms against)', () => {
  it("containerd 1.6's dump of config.toml with an import that overrides its sandbox image: the import's, and the files read", async () => {
    const dropIn = join(dir, 'conf.d', '10-pause.toml');
    await run('mkdir', ['-p', join(dir, 'conf.d')]);
    await writeFile(
      dropIn,
      'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "example.org/theirs:1"\n',
    );
    const main = `imports = [${JSON.stringify(join(dir, 'conf.d', '*.toml'))}]\n${setupConfig}`;
    const out = await dump('imports.toml', main);
    expect(effectiveSandboxImage(out)).toBe('example.org/theirs:1');
    // 1.6 lists the files it read in no stable order (2 of 5 runs had them the other way round).
    expect(dumpImports(out).sort()).toEqual([join(dir, 'imports.toml'), dropIn].sort());
    expect(effectiveSandboxImage(await dump('plain.toml', setupConfig))).toBe(OLD);
  });

  it("containerd 2's dump (version 4, literal strings): pinned_images.sandbox, not the runtime's sandboxer", () => {
    const v4 = [
      'version = 4',
      "imports = ['/etc/containerd/conf.d/*.toml', '/etc/k2h/*.toml']",
      '',
      "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
      `  sandbox = '${NEW}'`,
      '',
      "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]",
      "  sandboxer = 'podsandbox'",
      '',
    ].join('\n');
    expect(effectiveSandboxImage(v4)).toBe(NEW);
    expect(dumpImports(v4)).toEqual(['/etc/containerd/conf.d/*.toml', '/etc/k2h/*.toml']);
    expect(effectiveSandboxImage(v4.replace(/^ {2}sandbox = .*$/m, ''))).toBeUndefined();
    expect(dumpImports('version = 4\n')).toEqual([]);
  });
});

describe('stalePins (the CRI pins setSandboxImage drops)', () => {
  const old = [
    { ref: OLD, digest: 'sha256:aa' },
    { ref: '10.200.7.1:5000/k8s/pause@sha256:aa', digest: 'sha256:aa' },
    { ref: 'sha256:0a', digest: 'sha256:aa' },
  ];
  const current = [
    { ref: NEW, digest: 'sha256:bb' },
    { ref: 'sha256:0b', digest: 'sha256:bb' },
  ];
  it('an image pinned but no longer configured is released, every record of it; the configured one is kept', () => {
    expect(stalePins([...old, ...current], [NEW], [])).toEqual({ release: old.map((p) => p.ref), inUse: [] });
    expect(stalePins(current, [NEW], [])).toEqual({ release: [], inUse: [] });
    expect(stalePins([], [NEW], [])).toEqual({ release: [], inUse: [] });
  });
  it('an old one a container uses (any of its records) stays pinned, reported', () => {
    expect(stalePins([...old, ...current], [NEW], ['sha256:0a', NEW])).toEqual({
      release: [],
      inUse: old.map((p) => p.ref),
    });
  });
  it('normalizeImageRef: docker.io, library/ and :latest filled in the way containerd does; hosts kept', () => {
    expect(normalizeImageRef('pause:3.10')).toBe('docker.io/library/pause:3.10');
    expect(normalizeImageRef('myorg/pause:3.10')).toBe('docker.io/myorg/pause:3.10');
    expect(normalizeImageRef('pause')).toBe('docker.io/library/pause:latest');
    expect(normalizeImageRef('docker.io/pause:3.10')).toBe('docker.io/library/pause:3.10');
    expect(normalizeImageRef('pause@sha256:aa')).toBe('docker.io/library/pause@sha256:aa');
    expect(normalizeImageRef(OLD)).toBe(OLD);
    expect(normalizeImageRef('localhost/pause')).toBe('localhost/pause:latest');
    expect(normalizeImageRef('registry.k8s.io/pause:3.10.1')).toBe('registry.k8s.io/pause:3.10.1');
  });
  it('a configured pin written unnormalized keeps the record containerd normalized (air-gapped nodes keep their pause)', () => {
    const records = [
      { ref: 'docker.io/library/pause:3.10', digest: 'sha256:cc' },
      { ref: 'docker.io/myorg/pause:3.10', digest: 'sha256:dd' },
      ...old,
    ];
    expect(stalePins(records, ['pause:3.10', 'myorg/pause:3.10'], [])).toEqual({
      release: old.map((p) => p.ref),
      inUse: [],
    });
  });
  it('a record sharing its target digest with a configured pin record is never released', () => {
    // Another name for the configured image's target (a retag): releasing it would drop a pin of that content.
    const records = [
      { ref: NEW, digest: 'sha256:bb' },
      { ref: 'other.example/pause:alias', digest: 'sha256:bb' },
    ];
    expect(stalePins(records, [NEW], [])).toEqual({ release: [], inUse: [] });
  });
  it('configuredPins: every pinned_images value in a version 3+ dump, the sandbox_image of a version 2 one', () => {
    const v4 = `version = 4\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = '${NEW}'\n  mine = "x/y:1"\n\n[plugins.'io.containerd.cri.v1.runtime']\n  z = 'q'\n`;
    expect(configuredPins(v4)).toEqual([NEW, 'x/y:1']);
    expect(configuredPins(`version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "${OLD}"\n`)).toEqual([
      OLD,
    ]);
    expect(configuredPins('version = 4\n')).toEqual([]);
  });
});
