// applyPodNetwork against a stand-in host and API server (in memory): which manifest it uploads (flannel with the
// nodes' CNI dir, or the user's file), which kubectl calls it makes (the stored kubeconfig on stdin, server-side
// apply), and how it reports changes from resourceVersions before and after. The real thing runs in
// test/workflows/setup-ha.test.ts; this pins the decisions a lab run cannot vary.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeApiActivities, POD_NETWORK_MANIFEST } from '../../../src/activities/kube-api.js';
import type { ActivityDeps } from '../../../src/activities/deps.js';
import type { HostContext } from '../../../src/plan/types.js';
import type { Command, HostSession, RunOptions } from '../../../src/ssh/index.js';

const via: HostContext = {
  target: { name: 'm1', address: '10.0.0.11', roles: ['primary-master'] },
  ssh: {} as HostContext['ssh'],
};
/** The failure an activity rejects with (activities throw ApplicationFailure through withFailures). */
const failureOf = (p: Promise<unknown>): Promise<ApplicationFailure> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as ApplicationFailure,
  );
const values = { network: '10.244.0.0/16', subnetLen: 24, imageRepository: 'registry.example/k8s' };

/** Stand-in: one host with files, and an API server whose objects get a new resourceVersion whenever an apply
 * changes them (as server-side apply does), none when the same manifest is applied again. */
function standIn() {
  const files = new Map<string, string>();
  const objects = new Map<string, { doc: string; version: number }>();
  let version = 100;
  const calls: { argv: string[]; stdin: string }[] = [];
  const docsOf = (text: string) =>
    parseAllDocuments(text).map((d) => {
      const o = d.toJS() as { kind: string; metadata: { name: string; namespace?: string } };
      return { key: `${o.kind} ${o.metadata.namespace ?? '<none>'} ${o.metadata.name}`, doc: JSON.stringify(o) };
    });
  const session = {
    name: 'm1',
    putFile(path: string, content: Buffer | string) {
      const changed = files.get(path) !== String(content);
      files.set(path, String(content));
      return Promise.resolve({ changed });
    },
    run(command: Command, opts: RunOptions = {}) {
      const argv = command as string[];
      calls.push({ argv, stdin: Buffer.isBuffer(opts.stdin) ? opts.stdin.toString('utf8') : '' });
      const manifest = files.get(argv[argv.indexOf('-f') + 1]!) ?? '';
      let stdout = '';
      if (argv[2] === 'apply')
        for (const { key, doc } of docsOf(manifest))
          if (objects.get(key)?.doc !== doc) objects.set(key, { doc, version: ++version });
      if (argv[2] === 'get')
        stdout = docsOf(manifest)
          .filter(({ key }) => objects.has(key))
          .map(({ key }) => `${key} ${objects.get(key)!.version}\n`)
          .join('');
      return Promise.resolve({ code: 0, stdout, stderr: '' });
    },
  } as unknown as HostSession;
  const deps: ActivityDeps = { session: () => session, now: () => Date.now() };
  return { deps, files, calls };
}

let dir: string;
const kubeconfigPath = (c: string) => join(dir, c, 'admin.conf');
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k2h-podnet-'));
  await mkdir(join(dir, 'lab'));
  await writeFile(kubeconfigPath('lab'), 'apiVersion: v1\nkind: Config\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('applyPodNetwork (stand-in host and API server)', () => {
  it("flannel into the nodes' CNI dir, server-side, kubeconfig on stdin; the same manifest again changes nothing", async () => {
    const { deps, files, calls } = standIn();
    const acts = createKubeApiActivities(deps, { kubeconfigPath });
    const input = {
      via,
      cluster: 'lab',
      network: { kind: 'flannel' as const, values },
      cniBinDirs: { m1: '/usr/lib/cni', w1: '/usr/lib/cni' },
    };
    const first = await acts.applyPodNetwork(input);
    expect(first.objects).toBe(6);
    expect(first.changed).toContain('DaemonSet/kube-flannel/kube-flannel-ds');
    expect(first.changed).toHaveLength(6);
    expect(files.get(POD_NETWORK_MANIFEST)).toContain('path: /usr/lib/cni');
    const apply = calls.find((c) => c.argv[2] === 'apply')!;
    expect(apply.argv).toEqual([
      'kubectl',
      '--kubeconfig=/dev/stdin',
      'apply',
      '--server-side',
      '--field-manager=kubeadm2ha',
      '--force-conflicts',
      '-f',
      POD_NETWORK_MANIFEST,
    ]);
    expect(apply.stdin).toBe('apiVersion: v1\nkind: Config\n');
    const second = await acts.applyPodNetwork(input);
    expect(second).toEqual({ ...first, changed: [] });
  });

  it('a changed value changes only the object that holds it', async () => {
    const { deps } = standIn();
    const acts = createKubeApiActivities(deps, { kubeconfigPath });
    await acts.applyPodNetwork({ via, cluster: 'lab', network: { kind: 'flannel', values } });
    const r = await acts.applyPodNetwork({
      via,
      cluster: 'lab',
      network: { kind: 'flannel', values: { ...values, subnetLen: 26 } },
    });
    expect(r.changed).toEqual(['ConfigMap/kube-flannel/kube-flannel-cfg']);
  });

  it('refuses, without retry, nodes whose CNI plugins live in different directories', async () => {
    const acts = createKubeApiActivities(standIn().deps, { kubeconfigPath });
    const err = await failureOf(
      acts.applyPodNetwork({
        via,
        cluster: 'lab',
        network: { kind: 'flannel', values },
        cniBinDirs: { m1: '/opt/cni/bin', w1: '/usr/lib/cni' },
      }),
    );
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/m1 \/opt\/cni\/bin, w1 \/usr\/lib\/cni/);
  });

  it("applies the user's manifest file as it is, and says so when it cannot be read", async () => {
    const { deps, files } = standIn();
    const acts = createKubeApiActivities(deps, { kubeconfigPath });
    const path = join(dir, 'cni.yaml');
    const text = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: my-cni\n';
    await writeFile(path, text);
    const r = await acts.applyPodNetwork({ via, cluster: 'lab', network: { kind: 'manifest', path } });
    expect(files.get(POD_NETWORK_MANIFEST)).toBe(text);
    expect(r).toMatchObject({ objects: 1, changed: ['Namespace//my-cni'] });
    const err = await failureOf(
      acts.applyPodNetwork({ via, cluster: 'lab', network: { kind: 'manifest', path: join(dir, 'missing.yaml') } }),
    );
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/cannot read the pod network manifest/);
  });
});
