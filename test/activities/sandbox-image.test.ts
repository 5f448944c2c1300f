// The upgrade's setSandboxImage against the machine's real containerd 1.6 (Debian's) on one namespace host: the
// sandbox image it writes to config.toml is confirmed from `containerd config dump`, so a file config.toml imports
// that sets another one (containerd merges imports after the file that names them) fails the step, not
// retryable, naming that file, instead of the step believing its own edit; once that file goes, the step passes.
// And the old sandbox image's CRI pin: containerd 1.6 never pins one (its CRI neither sets nor reads the pin label, so
// the kubelet's image GC may collect an old pause image once no sandbox uses it), so setSandboxImage drops nothing
// there. containerd 2 (which does pin, and keeps the pin) is in test/activities/containerd2.test.ts, with its
// default import (/etc/containerd/conf.d/*.toml).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContainerdActivities } from '../../src/activities/containerd.js';
import { STAGING_DIR } from '../../src/activities/images-host.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { loadInventory } from '../../src/inventory/index.js';
import { targetOf } from '../../src/plan/topology.js';
import type { HostContext } from '../../src/plan/types.js';
import { CONTAINERD_CONFIG } from '../../src/templates/containerd.js';
import { createLab, type Lab } from '../../lab/index.js';
import { writeFileCommand } from '../../lab/k8s/node.js';
import { criImageCommand, type CriImage } from '../support/cri-status.js';
import { importOneLayerImage, oneLayerImage } from '../support/one-layer-image.js';

const PAUSE = 'registry.k8s.io/pause:3.10';
const DROP_IN = '/etc/containerd/conf.d/50-pause.toml';

let lab: Lab;
let deps: ReturnType<typeof createSshDeps>;
let host: HostContext;
const sh = async (cmd: string): Promise<string> => (await lab.exec('h1', cmd)).stdout;
const acts = () => createContainerdActivities(deps);

beforeAll(async () => {
  lab = await createLab({ hosts: 1 });
  const inventory = (await loadInventory(await lab.writeInventory())).inventory;
  deps = createSshDeps(sshTrustOf(inventory));
  host = { target: targetOf(inventory.hosts[0]!), ssh: inventory.ssh };
}, 180_000);

afterAll(async () => {
  await deps?.close();
  await lab?.destroy();
});

describe('setSandboxImage confirms the effective sandbox image: containerd 1.6', () => {
  it('an imported drop-in that sets another sandbox image fails the step naming it; without it the step passes', async () => {
    const r = await acts().configureContainerd({
      host,
      settings: { cgroupDriver: 'cgroupfs', sandboxImage: PAUSE, restrictOomScoreAdj: false },
      registries: [],
    });
    expect(['started', 'restarted']).toContain(r.action);
    expect(await sh('containerd --version')).toMatch(/ 1\.6\./);
    // An operator's drop-in, imported by a line added to the top of config.toml (TOML: before any table).
    await sh(
      `sed -i '1i imports = ["/etc/containerd/conf.d/*.toml"]' ${CONTAINERD_CONFIG} && ` +
        writeFileCommand(
          DROP_IN,
          'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "example.org/theirs/pause:1"\n',
          '0644',
        ),
    );
    const image = 'registry.k8s.io/pause:3.10.1';
    const failed = acts().setSandboxImage({ host, image });
    await expect(failed).rejects.toMatchObject({
      type: 'HostNotSuitable',
      nonRetryable: true,
      message: expect.stringContaining(
        `containerd's effective sandbox image is example.org/theirs/pause:1, not ${image} as written to ` +
          `${CONTAINERD_CONFIG}: ${DROP_IN}, which containerd imports after it, sets it and overrides it`,
      ) as unknown,
    });
    // config.toml says the new one; a re-run (nothing left to write) still fails: it checks every time.
    expect(await sh(`grep sandbox_image ${CONTAINERD_CONFIG}`)).toContain(image);
    await expect(acts().setSandboxImage({ host, image })).rejects.toMatchObject({ type: 'HostNotSuitable' });

    await sh(`rm ${DROP_IN}`);
    expect(await acts().setSandboxImage({ host, image })).toMatchObject({ changed: false, action: 'none' });
    expect(await sh(`containerd --config ${CONTAINERD_CONFIG} config dump`)).toContain(`sandbox_image = "${image}"`);
  }, 120_000);

  it('containerd 1.6 pins no sandbox image: the CRI reports the configured one unpinned, and setSandboxImage drops no pin', async () => {
    const image = 'registry.k8s.io/pause:3.10.1';
    // The configured sandbox image, present as a pull would leave it (imported: no registry needed for this).
    const made = await oneLayerImage(sh, 'pin', 'a pause stand-in');
    await sh(
      [
        `mkdir -p ${STAGING_DIR}/blobs/sha256`,
        ...made.parts.map(([b, f]) => `cp /tmp/${f} ${STAGING_DIR}/blobs/sha256/${b.hex}`),
      ].join(' && '),
    );
    await importOneLayerImage(sh, made, image);
    const status = JSON.parse(await sh(criImageCommand('image', image))) as CriImage;
    expect(status).toMatchObject({ repoTags: [image], pinned: false });
    expect((await sh(`ctr -n k8s.io images ls -q 'labels."io.cri-containerd.pinned"==pinned'`)).trim()).toBe('');
    const r = await acts().setSandboxImage({ host, image: 'registry.k8s.io/pause:3.11' });
    expect(r).toMatchObject({ before: image, changed: true });
    expect(r.unpinned).toBeUndefined();
    expect(r.stillPinned).toBeUndefined();
  }, 120_000);
});
