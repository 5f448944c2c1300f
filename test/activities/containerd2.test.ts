// Our containerd writers against a real containerd 2 (scripts/build-containerd.sh builds 2.4.2 from the Go module
// proxy) on one namespace host: configureContainerd's config.toml (version 2, which containerd 2 migrates to its
// version 4 when it reads it) starts containerd 2 and its CRI answers with our runtime settings; setSandboxImage pins
// the sandbox image both in that file and in containerd 2's own `config default` file (version 4: containerd 2.3+
// write 4, not 3; an earlier withSandboxImage took a version 4 file for version 2 and containerd ignored its edit);
// the images push receiver's ctr commands (content ingest with a resume, import) work with containerd 2's ctr; and
// the CRI, pulling from a lab registry as the kubelet would, pins the image our config names (and, after
// setSandboxImage, the new one too: the old keeps its pin until setSandboxImage drops it once no container uses it)
// and no other.
// containerd 2 is installed in this host only: its /usr/local/bin (a private overlay upper, first on the PATH), so
// the machine's containerd 1.6 and every other lab host are untouched; socket, root and state are the host's own
// (private /run and /var/lib/containerd). No container is run, so runc's version (Debian's 1.1.5) does not matter.
// What containerd 2 reports: its `config dump` (the config after its migration: the sandbox image lives in its
// images plugin, which the CRI's Status leaves out), the CRI's verbose Status (what `crictl info` prints; crictl
// is not installed: test/support/cri-status.ts), `ctr deprecations list` (deprecated config properties it met) and
// the warnings in its log.
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContainerdActivities } from '../../src/activities/containerd.js';
import { RECEIVE_PATH, RECEIVE_SCRIPT, STAGING_DIR } from '../../src/activities/images-host.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { ociArchitecture } from '../../src/images/oci-layout.js';
import { loadInventory } from '../../src/inventory/index.js';
import { targetOf } from '../../src/plan/topology.js';
import type { HostContext } from '../../src/plan/types.js';
import { CONTAINERD_CONFIG } from '../../src/templates/containerd.js';
import { runBuildScript } from '../../lab/build-script.js';
import { hostDir } from '../../lab/host-files.js';
import { createLab, type Lab } from '../../lab/index.js';
import { writeFileCommand } from '../../lab/k8s/node.js';
import { importOneLayerImage, oneLayerImage } from '../support/one-layer-image.js';
import { startLabRegistry, type LabRegistry } from '../../lab/k8s/registry-server.js';
import { criImageCommand, criStatusCommand, type CriImage, type CriStatus } from '../support/cri-status.js';
import { pollUntil } from '../support/poll.js';

/** Must match CONTAINERD2_VERSION in scripts/build-containerd.sh. */
const CONTAINERD2_VERSION = '2.4.2';
const PAUSE = 'registry.k8s.io/pause:3.10.1';

let lab: Lab;
let registry: LabRegistry | undefined;
let deps: ReturnType<typeof createSshDeps>;
let host: HostContext;
const sh = async (cmd: string): Promise<string> => (await lab.exec('h1', cmd)).stdout;
const acts = () => createContainerdActivities(deps);
/** containerd 2's view of the config file: its `config dump` (version 3 after migration). */
const dump = () => sh(`containerd --config ${CONTAINERD_CONFIG} config dump`);
/** The CRI's verbose Status, as `crictl info` prints it. */
const criStatus = async () => JSON.parse(await sh(criStatusCommand())) as CriStatus;
/** The deprecations containerd 2 says the running daemon met (ctr's introspection: deprecated config properties
 * among them), but cgroup v1: the lab machine's hybrid cgroups, not our config. */
const deprecations = async () =>
  (await sh('ctr deprecations list'))
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/)[0]!)
    .filter((id) => id !== '' && id !== 'io.containerd.deprecation/cgroup-v1');
/** containerd's log lines since the daemon's last start that warn or err, without the ones about missing pieces
 * the lab does not have (no CNI network config, no btrfs/zfs/devmapper/erofs/aufs, no tracing, no NRI, no runc
 * checks it skips) — what remains points at the config. */
const configWarnings = async () =>
  (await sh('tac /var/log/containerd.log | sed "/starting containerd/q" | tac'))
    .split('\n')
    .filter((l) => /level=(warning|error)/.test(l))
    .filter((l) => !labGap(l));
/** One field of a containerd log line (logfmt: msg="…", id=…), unquoted; '' when absent. */
const logField = (line: string, key: string): string => {
  const m = new RegExp(`(?:^|\\s)${key}=(?:"((?:[^"\\\\]|\\\\.)*)"|(\\S*))`).exec(line);
  return m?.[1] ?? m?.[2] ?? '';
};
/** A warning about a piece the lab lacks, told by the line's msg= and plugin id= fields only (an error= text or a
 * path that happens to name one of them does not hide a line); the CNI one only for its missing network config. */
const labGap = (l: string): boolean => {
  const msg = logField(l, 'msg');
  if (/^failed to load cni during init/.test(msg)) return /no network config found/.test(logField(l, 'error'));
  return /btrfs|zfs|devmapper|erofs|aufs|blockfile|tracing|nri|skip loading plugin|tmpmounts|rdt|blockio|fsverity|cgroup v1/i.test(
    `${msg} ${logField(l, 'id')}`,
  );
};

beforeAll(async () => {
  const binDir = await runBuildScript(
    'build-containerd.sh',
    [CONTAINERD2_VERSION],
    ['containerd', 'ctr', 'containerd-shim-runc-v2'],
    {},
    (m) => new Error(m),
  );
  lab = await createLab({ hosts: 1 });
  // The host's /root is a plain directory of the lab (bind-mounted): the binaries go in there, then into the host's
  // own /usr/local/bin.
  const drop = join(hostDir(lab.dir, 1), 'root', 'containerd2');
  await mkdir(drop, { recursive: true });
  await cp(binDir, drop, { recursive: true });
  await sh('install -m 0755 /root/containerd2/* /usr/local/bin/ && rm -r /root/containerd2');
  const inventory = (await loadInventory(await lab.writeInventory())).inventory;
  deps = createSshDeps(sshTrustOf(inventory));
  host = { target: targetOf(inventory.hosts[0]!), ssh: inventory.ssh };
}, 900_000);

afterAll(async () => {
  await registry?.stop();
  await deps?.close();
  await lab?.destroy();
});

describe('our containerd config against a real containerd 2', () => {
  it("configureContainerd's config starts containerd 2, which migrates every setting and serves CRI", async () => {
    const r = await acts().configureContainerd({
      host,
      settings: { cgroupDriver: 'systemd', sandboxImage: PAUSE, restrictOomScoreAdj: true },
      registries: [{ host: 'registry.lab:5000', endpoints: ['http://10.200.0.1:5000'], skipVerify: false }],
    });
    expect(r.action).toBe('started');
    expect(await sh('ctr version')).toMatch(new RegExp(`Server:\\s+Version:\\s+v${CONTAINERD2_VERSION}`));

    const d = await dump();
    console.log(`containerd ${CONTAINERD2_VERSION} config dump of configureContainerd's file:\n${d}`);
    // 2.3 and later migrate every older file to version 4 (server settings moved into plugins).
    expect(d).toMatch(/^version = 4$/m);
    expect(d).toContain(`sandbox = '${PAUSE}'`);
    expect(d).toContain("config_path = '/etc/containerd/certs.d'");
    expect(d).toMatch(/restrict_oom_score_adj = true/);
    expect(d).toMatch(/bin_dirs? = \[?'\/(usr\/lib\/cni|opt\/cni\/bin)'\]?/);
    expect(d).toMatch(/SystemdCgroup = true/);
    expect(d).toMatch(/default_runtime_name = 'runc'/);

    await pollUntil(async () => (await criStatus()).conditions.length > 0, 'the CRI answering', 30_000);
    const status = await criStatus();
    expect(status.conditions).toContainEqual(expect.objectContaining({ type: 'RuntimeReady', status: true }));
    // The CRI's own view of the runtime settings (containerd 2 keeps the image settings, the sandbox image among
    // them, out of this: they belong to its images plugin, whose view is the dump above).
    expect(status.info.config).toMatchObject({
      containerd: { defaultRuntimeName: 'runc', runtimes: { runc: { options: { SystemdCgroup: true } } } },
      cni: { binDirs: [r.cniBinDir], confDir: '/etc/cni/net.d' },
      restrictOOMScoreAdj: true,
    });
    expect(await deprecations()).toEqual([]);
    expect(await configWarnings()).toEqual([]);
  }, 180_000);

  it('setSandboxImage on that file: containerd 2 restarts and its images plugin pins the new sandbox image', async () => {
    const image = 'registry.k8s.io/pause:3.99';
    const r = await acts().setSandboxImage({ host, image });
    expect(r).toMatchObject({ before: PAUSE, changed: true, action: 'restarted' });
    expect(await dump()).toContain(`sandbox = '${image}'`);
    await pollUntil(async () => (await criStatus()).conditions.length > 0, 'the CRI answering', 30_000);
    expect(await deprecations()).toEqual([]);
    expect(await configWarnings()).toEqual([]);
    expect((await acts().setSandboxImage({ host, image })).action).toBe('none');
  }, 120_000);

  it("setSandboxImage on containerd 2's own file (version 4) pins the sandbox where containerd 2 reads it", async () => {
    await sh(`containerd config default > ${CONTAINERD_CONFIG}`);
    expect(await sh(`cat ${CONTAINERD_CONFIG}`)).toMatch(/^version = 4$/m);
    const image = 'registry.k8s.io/pause:3.77';
    const r = await acts().setSandboxImage({ host, image });
    expect(r.changed).toBe(true);
    expect(['started', 'restarted']).toContain(r.action); // started when run alone (-t)
    expect(await sh(`grep -c "^version = 4" ${CONTAINERD_CONFIG}`)).toBe('1\n');
    expect(await dump()).toContain(`sandbox = '${image}'`);
    await pollUntil(async () => (await criStatus()).conditions.length > 0, 'the CRI answering', 30_000);
    expect(await configWarnings()).toEqual([]);
  }, 120_000);

  it("the images push receiver's ingest and import work with containerd 2's ctr", async () => {
    await sh(writeFileCommand(RECEIVE_PATH, RECEIVE_SCRIPT, '0755'));
    // A one-layer image, made here: an uncompressed tar layer, its config, its manifest.
    const image = await oneLayerImage(sh, '', 'hello containerd 2');
    const { layer, parts } = image;
    // The layer cut after 1000 bytes first, then resumed: the receiver's resume path with containerd 2's ctr too.
    const frames = (list: { hex: string; offset: number; size: number; bytes: string }[]) =>
      list.map((p) => `printf '%s %s %s\\n' ${p.hex} ${p.offset} ${p.size}; ${p.bytes}`).join('; ');
    const cut = await lab.exec(
      'h1',
      `{ ${frames([{ hex: layer.hex, offset: 0, size: layer.size, bytes: 'head -c 1000 /tmp/layer.tar' }])}; } | ${RECEIVE_PATH}`,
      { allowFail: true },
    );
    expect(cut.stdout.trim()).toBe(`short ${layer.hex} 1000`);
    const off = Number((await sh(`stat -c %s ${STAGING_DIR}/blobs/sha256/${layer.hex}.partial`)).trim());
    const r = await sh(
      `{ ${frames([
        { hex: layer.hex, offset: off, size: layer.size, bytes: `tail -c +${off + 1} /tmp/layer.tar` },
        ...parts.slice(1).map(([d, f]) => ({ hex: d.hex, offset: 0, size: d.size, bytes: `cat /tmp/${f}` })),
      ])}; } | ${RECEIVE_PATH}`,
    );
    expect(r.trim().split('\n')).toEqual(parts.map(([d]) => `ok ${d.hex}`));
    expect((await sh('ctr -n k8s.io content active')).trim().split('\n').slice(1)).toEqual([]);

    const ref = 'k2h.test/containerd2:1';
    await importOneLayerImage(sh, image, ref);
    expect(await sh('ctr -n k8s.io images ls -q')).toContain(ref);
  }, 120_000);
  it("the CRI pins the sandbox image our config names (the kubelet's image GC keeps it); after setSandboxImage it pins the new one, and the old keeps its pin only while a container uses it", async () => {
    // Two images of one layer made here (an uncompressed tar, its diff id its digest), pushed to a lab registry: the
    // CRI pins by image (config digest), so they differ in their config's author.
    registry = await startLabRegistry({ labDir: lab.dir, address: lab.bridgeAddress, port: 5002 });
    await sh(
      'mkdir -p /tmp/pin && echo "pinned by containerd 2" > /tmp/pin/hello && tar -C /tmp/pin -cf /tmp/pin.tar hello',
    );
    const layer = await readFile(join(hostDir(lab.dir, 1), 'tmp', 'pin.tar'));
    const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
    const baseConfig = {
      architecture: ociArchitecture(),
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [sha(layer)] },
    };
    const blob = async (name: string, body: Buffer) => {
      const start = await fetch(`${registry!.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
      expect(start.status).toBe(202);
      const loc = new URL(start.headers.get('location')!, registry!.url);
      loc.searchParams.set('digest', sha(body));
      const put = await fetch(loc, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
      expect(put.status).toBe(201);
    };
    const push = async (name: string, tag: string) => {
      const config = Buffer.from(JSON.stringify({ ...baseConfig, author: name }));
      await blob(name, layer);
      await blob(name, config);
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
      });
      const put = await fetch(`${registry!.url}/v2/${name}/manifests/${tag}`, {
        method: 'PUT',
        body: manifest,
        headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      });
      expect(put.status).toBe(201);
    };
    await push('k2h/pause', '3.99');
    await push('k2h/other', '1');
    const pause = `${registry.host}/k2h/pause:3.99`;
    const other = `${registry.host}/k2h/other:1`;
    const cri = async (mode: 'pull' | 'image', image: string) =>
      JSON.parse(await sh(criImageCommand(mode, image))) as CriImage & { imageRef?: string };

    const r = await acts().configureContainerd({
      host,
      settings: { cgroupDriver: 'cgroupfs', sandboxImage: pause, restrictOomScoreAdj: false },
      registries: [{ host: registry.host, endpoints: [registry.url], skipVerify: false }],
    });
    expect(['started', 'restarted']).toContain(r.action); // started when run alone (-t)
    await pollUntil(async () => (await criStatus()).conditions.length > 0, 'the CRI answering', 30_000);
    expect((await cri('pull', pause)).imageRef).toMatch(/^sha256:/);
    expect((await cri('pull', other)).imageRef).toMatch(/^sha256:/);
    expect(await cri('image', pause)).toMatchObject({ repoTags: [pause], pinned: true });
    expect(await cri('image', other)).toMatchObject({ repoTags: [other], pinned: false });

    // A container on the old sandbox image (a stand-in for a pod sandbox still running on it: a container record,
    // not run) keeps its pin through the upgrade's edit.
    const pauseRecords = (await sh(`ctr -n k8s.io images ls -q | grep -F -e ${pause} -e k2h/pause@ || true`))
      .trim()
      .split('\n');
    await sh(`ctr -n k8s.io containers create ${pause} k2h-sandbox-stand-in`);
    // The upgrade's edit: the new sandbox image is pinned by containerd 2 from then on (the kubelet pulls it anew).
    const edit = await acts().setSandboxImage({ host, image: other });
    expect(edit).toMatchObject({ changed: true, action: 'restarted' });
    expect(edit.unpinned).toBeUndefined();
    expect(edit.stillPinned).toEqual(expect.arrayContaining([pause]));
    await pollUntil(async () => (await criStatus()).conditions.length > 0, 'the CRI answering', 30_000);
    await cri('pull', other);
    expect(await cri('image', other)).toMatchObject({ pinned: true });
    // Measured, containerd 2.4.2: the pin set at the old image's pull outlives the restart and the config's change
    // (containerd never drops it), so without the release below the kubelet's image GC would never remove it.
    expect(await cri('image', pause)).toMatchObject({ repoTags: [pause], pinned: true });
    expect(await sh(`ctr -n k8s.io images ls -q 'labels."io.cri-containerd.pinned"==pinned'`)).toContain(pause);

    // Once no container uses it, the next run (config.toml as wanted: nothing else changes) drops the pin of each of
    // its records, and the CRI reports it unpinned; the current one keeps its pin. A run after that finds nothing.
    await sh('ctr -n k8s.io containers rm k2h-sandbox-stand-in');
    const release = await acts().setSandboxImage({ host, image: other });
    expect(release).toMatchObject({ changed: false, action: 'none' });
    expect([...(release.unpinned ?? [])].sort()).toEqual(expect.arrayContaining(pauseRecords.filter((r) => r !== '')));
    expect(release.unpinned).not.toContain(other);
    expect(await cri('image', pause)).toMatchObject({ repoTags: [pause], pinned: false });
    expect(await cri('image', other)).toMatchObject({ pinned: true });
    const again = await acts().setSandboxImage({ host, image: other });
    expect(again.unpinned).toBeUndefined();
    expect(again.stillPinned).toBeUndefined();
    expect(await deprecations()).toEqual([]);
    expect(await configWarnings()).toEqual([]);
  }, 180_000);

  it("setSandboxImage confirms containerd 2's effective sandbox image: a drop-in in conf.d, which its own config imports, overrides it and fails the step, named", async () => {
    // containerd 2's own file (`config default`, 2.4.2) imports /etc/containerd/conf.d/*.toml. Measured: its `config
    // dump` lists that import for any file, but merges the drop-ins only when the file names them.
    await sh(`containerd config default > ${CONTAINERD_CONFIG}`);
    expect(await sh(`cat ${CONTAINERD_CONFIG}`)).toContain("imports = ['/etc/containerd/conf.d/*.toml']");
    const dropIn = '/etc/containerd/conf.d/99-pause.toml';
    await sh(
      writeFileCommand(
        dropIn,
        "version = 3\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = 'example.org/theirs/pause:2'\n",
      ),
    );
    const image = 'registry.k8s.io/pause:3.88';
    await expect(acts().setSandboxImage({ host, image })).rejects.toMatchObject({
      type: 'HostNotSuitable',
      nonRetryable: true,
      message: expect.stringContaining(
        `containerd's effective sandbox image is example.org/theirs/pause:2, not ${image} as written to ` +
          `${CONTAINERD_CONFIG}: ${dropIn}, which containerd imports after it, sets it and overrides it`,
      ) as unknown,
    });
    await sh(`rm ${dropIn}`);
    expect(await acts().setSandboxImage({ host, image })).toMatchObject({ changed: false, action: 'none' });
  }, 120_000);
});
