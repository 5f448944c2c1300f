// The upgrade plan's checks of the target's packages and images (issue 12 item 1): which images each node needs,
// how the facts turn into problems that name what is missing and where, and the registry probe the activity runs.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageList, registryAccessOf, type UpgradeImageFacts } from '../../../src/activities/upgrade-images.js';
import { parsePrimaryFacts } from '../../../src/activities/node-upgrade.js';
import { manifestPresent } from '../../../src/images/registry-pull.js';
import { Inventory } from '../../../src/inventory/schema.js';
import { describeUpgrade, planUpgrade } from '../../../src/plan/upgrade.js';
import { imageProblems, packageProblems, upgradeImageNeeds } from '../../../src/plan/upgrade-images.js';
import { simCluster, simInventory } from '../../support/upgrade-sim.js';

const REPO = '10.200.7.1:5000/k8s';
const inv = Inventory.parse({
  ...simInventory(2, 1),
  cluster: {
    ...simInventory(2, 1).cluster,
    imageRepository: REPO,
    containerRuntime: { registries: [{ host: '10.200.7.1:5000', endpoints: ['http://10.200.7.1:5000'] }] },
  },
});
const opts = { target: '1.34.12', stamp: '20261203T030000Z' };
const sim = () => {
  const c = simCluster('1.33.13', { masters: ['m1', 'm2'], workers: ['w1'] });
  c.state.offered = ['1.33.13', '1.34.12'];
  return c;
};

describe('upgradeImageNeeds', () => {
  it("masters need kubeadm's whole list for the target (no etcd image with external etcd), workers the node images", () => {
    const n = upgradeImageNeeds(inv, '1.34.12');
    if (!('input' in n)) throw new Error(n.unchecked);
    const byHost = Object.fromEntries(n.input.hosts.map((h) => [h.host.target.name, h.refs]));
    expect(byHost.m1).toEqual([
      `${REPO}/kube-apiserver:v1.34.12`,
      `${REPO}/kube-controller-manager:v1.34.12`,
      `${REPO}/kube-scheduler:v1.34.12`,
      `${REPO}/kube-proxy:v1.34.12`,
      `${REPO}/coredns:v1.12.1`,
      `${REPO}/pause:3.10.1`,
    ]);
    expect(byHost.m2).toEqual(byHost.m1);
    expect(byHost.w1).toEqual([`${REPO}/kube-proxy:v1.34.12`, `${REPO}/coredns:v1.12.1`, `${REPO}/pause:3.10.1`]);
    expect(n.input.registries).toEqual([{ host: '10.200.7.1:5000', endpoints: ['http://10.200.7.1:5000'] }]);
  });

  it('an air-gapped cluster is not checked before the run: the run pushes the images itself', () => {
    const air = Inventory.parse({ ...inv, cluster: { ...inv.cluster, images: { airGapped: true } } });
    const n = upgradeImageNeeds(air, '1.34.12');
    expect('unchecked' in n && n.unchecked).toMatch(/pushes them itself \(cluster\.images\.airGapped\)/);
  });

  it('a minor without an image table is not checked, and the plan says so instead of refusing', () => {
    const n = upgradeImageNeeds(inv, '1.40.1');
    expect('unchecked' in n && n.unchecked).toMatch(/no image table for Kubernetes v1\.40\.1/);
    const facts = { ...sim().facts(), images: { images: [], unchecked: 'no image table for Kubernetes v1.40.1' } };
    const p = planUpgrade(inv, facts, opts);
    expect(p.policy.allowed).toBe(true);
    expect(describeUpgrade(p)).toContain('  note: images not checked: no image table for Kubernetes v1.40.1');
  });
});

describe('the plan refuses what is missing, naming it', () => {
  const images = (over: UpgradeImageFacts['images']): UpgradeImageFacts => ({
    images: [{ ref: `${REPO}/kube-proxy:v1.34.12`, missingOn: [] }, ...over],
  });

  it('an image neither in the registry nor on the nodes that need it', () => {
    const facts = {
      ...sim().facts(),
      images: images([
        {
          ref: `${REPO}/kube-apiserver:v1.34.12`,
          missingOn: ['m1', 'm2'],
          inRegistry: false,
          registryUrl: 'http://10.200.7.1:5000',
        },
      ]),
    };
    const p = planUpgrade(inv, facts, opts);
    expect(p.policy.allowed).toBe(false);
    expect(p.runbook.phases).toEqual([]);
    expect(p.policy.problems).toEqual([
      `image ${REPO}/kube-apiserver:v1.34.12: not in the registry (http://10.200.7.1:5000 has no such manifest) and not on m1, m2`,
      'put the missing images in the registry or on the nodes first (kubeadm2ha images push)',
    ]);
    const text = describeUpgrade(p);
    expect(text[0]).toBe('upgrade to 1.34.12 (packages 1.34.12-1.1): refused');
    // Per node what would change, even when refused.
    expect(text).toContainEqual(
      expect.stringMatching(/^ {2}m1 +kubelet 1\.33\.13, .*→ {2}kubeadm upgrade apply → 1\.34\.12$/),
    );
    expect(text).toContainEqual(
      expect.stringMatching(/^ {2}w1 +kubelet 1\.33\.13, .*→ {2}worker batch 1 → 1\.34\.12$/),
    );
  });

  it('a registry that could not be asked, for an image some node lacks', () => {
    const lines = imageProblems(
      images([{ ref: `${REPO}/pause:3.10.1`, missingOn: ['w1'], registryError: 'ECONNREFUSED' }]),
    );
    expect(lines[0]).toBe(`image ${REPO}/pause:3.10.1: the registry could not be asked (ECONNREFUSED) and not on w1`);
  });

  it('no problem when every node holds it (the registry not asked) or the registry has it', () => {
    expect(imageProblems(images([{ ref: `${REPO}/pause:3.10.1`, missingOn: ['w1'], inRegistry: true }]))).toEqual([]);
    const p = planUpgrade(inv, { ...sim().facts(), images: images([]) }, opts);
    expect(p.policy.allowed).toBe(true);
    expect(p.notes).toEqual([]);
  });

  it('kubelet or kubectl at the target missing from the package sources', () => {
    const facts = sim().facts();
    facts.offeredPackages = { kubelet: ['1.33.13-1.1'], kubectl: ['1.34.12-1.1', '1.33.13-1.1'] };
    const p = planUpgrade(inv, { ...facts, images: images([]) }, opts);
    expect(p.policy.allowed).toBe(false);
    expect(p.policy.problems).toEqual(['the package sources offer no kubelet 1.34.12-1.1 (offered: 1.33.13-1.1)']);
    expect(packageProblems(undefined, '1.34.12-1.1')).toEqual([]);
  });

  it('the primary lists what its sources offer of all three packages', () => {
    const f = parsePrimaryFacts(
      [
        'madison    kubeadm | 1.34.12-1.1 | http://10.200.7.1:8080 ./ Packages',
        'madison    kubeadm | 1.33.13-1.1 | http://10.200.7.1:8080 ./ Packages',
        'madison    kubelet | 1.33.13-1.1 | http://10.200.7.1:8080 ./ Packages',
        'madison    kubectl | 1.34.12-1.1 | http://10.200.7.1:8080 ./ Packages',
      ].join('\n'),
    );
    expect(f.offeredKubeadm).toEqual(['1.34.12-1.1', '1.33.13-1.1']);
    expect(f.offeredPackages).toEqual({ kubelet: ['1.33.13-1.1'], kubectl: ['1.34.12-1.1'] });
  });
});

describe('where the images are looked for', () => {
  let server: Server;
  let base = '';
  const seen: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.accept ?? ''}`);
      res.statusCode = req.url === '/v2/k8s/pause/manifests/3.10.1' ? 200 : req.url?.includes('/broken/') ? 500 : 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("containerd's list without digest-only entries; the inventory's endpoint for a registry, else https", () => {
    expect([...parseImageList(`${REPO}/pause:3.10.1\nsha256:${'a'.repeat(64)}\n\n`)]).toEqual([`${REPO}/pause:3.10.1`]);
    const regs = [{ host: '10.200.7.1:5000', endpoints: ['http://10.200.7.1:5000/'] }];
    expect(registryAccessOf(`${REPO}/pause:3.10.1`, regs).url).toBe('http://10.200.7.1:5000');
    expect(registryAccessOf('registry.k8s.io/pause:3.10.1', regs).url).toBe('https://registry.k8s.io');
  });

  it('asks the endpoint for the manifest: 200 is there, 404 is not, anything else throws naming the image', async () => {
    expect(await manifestPresent('10.200.7.1:5000/k8s/pause:3.10.1', { endpoint: base })).toBe(true);
    expect(await manifestPresent('10.200.7.1:5000/k8s/pause:3.9', { endpoint: base })).toBe(false);
    await expect(manifestPresent('10.200.7.1:5000/broken/pause:1', { endpoint: base })).rejects.toThrow(
      /broken\/pause:1.*HTTP 500/,
    );
    expect(seen[0]).toMatch(
      /^GET \/v2\/k8s\/pause\/manifests\/3\.10\.1 .*application\/vnd\.oci\.image\.manifest\.v1\+json/,
    );
  });
});
