// The upgrade plan's image check against a registry the inventory marks skipVerify (issue 12, left over): the real
// Distribution registry (Debian's docker-registry via startLabRegistry, on 127.0.0.1 and a free port) serving https
// with a certificate from a throw-away CA nobody trusts, as an insecure in-house registry does. The check asks it
// from the worker; with skipVerify it must not check the certificate (containerd does not either), without it the
// certificate is refused and the plan names why. The nodes' containerd is a stand-in session that holds no image,
// so every reference goes to the registry.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityDeps } from '../../../src/activities/deps.js';
import { createUpgradeImageActivities } from '../../../src/activities/upgrade-images.js';
import { buildImage } from '../../../src/images/oci-layout.js';
import { Inventory } from '../../../src/inventory/schema.js';
import { createCa, issueCertificate } from '../../../src/pki/index.js';
import { imageProblems, upgradeImageNeeds } from '../../../src/plan/upgrade-images.js';
import type { HostSession } from '../../../src/ssh/index.js';
import { startLabRegistry, type LabRegistry } from '../../../lab/k8s/registry-server.js';
import { simInventory } from '../../support/upgrade-sim.js';
import { freePort } from '../../../src/temporal/process-util.js';

const run = promisify(execFile);

/** Every node's `ctr images ls`: nothing (stand-in session), so the check asks the registry for each image. */
const emptyNodes: ActivityDeps = {
  session: () => ({ run: () => Promise.resolve({ code: 0, stdout: '', stderr: '' }) }) as unknown as HostSession,
  now: () => Date.now(),
};

let work: string;
let registry: LabRegistry;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'k2h-upgrade-tls-'));
  const ca = await createCa({ commonName: 'untrusted-ca', keyType: 'ecdsa-p256', validityDays: 2 });
  const cert = await issueCertificate({
    ca,
    commonName: 'registry',
    keyType: 'ecdsa-p256',
    validityDays: 1,
    usages: 'server',
    ipAddresses: ['127.0.0.1'],
  });
  await writeFile(join(work, 'tls.crt'), cert.certPem);
  await writeFile(join(work, 'tls.key'), cert.keyPem, { mode: 0o600 });
  registry = await startLabRegistry({
    labDir: work,
    address: '127.0.0.1',
    port: await freePort(),
    tls: { certificate: join(work, 'tls.crt'), key: join(work, 'tls.key') },
  });
  await writeFile(join(work, 'pause'), Buffer.alloc(1000, 7));
  const img = await buildImage(join(work, 'img'), {
    files: [{ path: '/pause', source: join(work, 'pause'), mode: 0o755 }],
    config: { entrypoint: ['/pause'] },
    os: 'linux',
    architecture: 'amd64',
  });
  // The target's pause image only; skopeo skips the certificate check as the operator's own tools would.
  await run('skopeo', [
    'copy',
    '--dest-tls-verify=false',
    `oci:${img.dir}`,
    `docker://${registry.host}/k8s/pause:3.10.1`,
  ]);
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const inventory = (skipVerify: boolean) => {
  const base = simInventory(1, 1);
  return Inventory.parse({
    ...base,
    cluster: {
      ...base.cluster,
      imageRepository: `${registry.host}/k8s`,
      containerRuntime: { registries: [{ host: registry.host, endpoints: [registry.url], skipVerify }] },
    },
  });
};

/** What `upgrade plan` finds for 1.34.12: upgradeImageNeeds (workflow side) → readUpgradeImages (worker side). */
async function check(skipVerify: boolean) {
  const needs = upgradeImageNeeds(inventory(skipVerify), '1.34.12');
  if (!('input' in needs)) throw new Error(needs.unchecked);
  const facts = await createUpgradeImageActivities(emptyNodes).readUpgradeImages(needs.input);
  return { input: needs.input, facts, byRef: new Map(facts.images.map((i) => [i.ref.split('/k8s/')[1], i])) };
}

describe('upgrade image check against an https registry with an untrusted certificate (real registry; stand-in nodes)', () => {
  it('skipVerify in the inventory: asked without checking the certificate; pause is there, the rest is named missing', async () => {
    const { input, facts, byRef } = await check(true);
    expect(registry.url).toMatch(/^https:\/\//);
    expect(input.registries).toEqual([{ host: registry.host, endpoints: [registry.url], skipVerify: true }]);
    expect(byRef.get('pause:3.10.1')).toMatchObject({ inRegistry: true, registryUrl: registry.url });
    expect(byRef.get('kube-proxy:v1.34.12')).toMatchObject({ inRegistry: false, missingOn: ['m1', 'w1'] });
    expect(facts.images.filter((i) => i.registryError !== undefined)).toEqual([]);
    expect(imageProblems(facts)).toContain(
      `image ${registry.host}/k8s/kube-proxy:v1.34.12: not in the registry (${registry.url} has no such manifest) and not on m1, w1`,
    );
  });

  it('without skipVerify the certificate is checked and refused, and the plan says the registry could not be asked', async () => {
    const { input, facts, byRef } = await check(false);
    expect(input.registries).toEqual([{ host: registry.host, endpoints: [registry.url] }]);
    const pause = byRef.get('pause:3.10.1');
    expect(pause?.inRegistry).toBeUndefined();
    expect(pause?.registryError).toMatch(/certificate/i);
    expect(imageProblems(facts).join('\n')).toMatch(/pause:3\.10\.1: the registry could not be asked \(.*certificate/i);
  });
});
