// transferImages (`images push`) through a real Temporal server and worker on the real-Kubernetes lab (containerd
// on every host): the store filled from the lab registry, then every host at once, each fed by one before it (two
// each) that forwards the blobs while they arrive, one stream per hop. An sshd killed on h1 in the middle of a blob is
// retried and resumes at that blob (h2, fed through h1, is cut too and resumes); the operator's bridge carries the
// set about once; every node lists each image by its digest; a second push sends nothing; a blob damaged in a relay
// host's content store is caught on arrival and named with host, image and source. Neither leaves an unfinished
// containerd ingest behind.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { GC_ROOT_LABEL, GC_ROOT_VALUE } from '../../src/activities/images-host.js';
import type { DeliverImagesResult, FillImageStoreResult } from '../../src/activities/images.js';
import { quote } from '../../src/ssh/quote.js';
import { imagesFor, planImageList } from '../../src/plan/images.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import { activeIngests } from '../support/k8s-cluster.js';
import { labSuite } from '../support/lab-suite.js';
import { labClusterInventory, TWO_MASTERS_TWO_WORKERS } from '../support/lab-cluster.js';

// No pod network, so the list is kubeadm's (the lab builds flannel's image only with cni none).
const suite = labSuite({
  name: 'images-wf',
  lab: { hosts: 4 },
  inventory: (lab) => labClusterInventory(lab, TWO_MASTERS_TWO_WORKERS),
});

const bridgeTx = async (): Promise<number> =>
  Number((await readFile(`/sys/class/net/k2hbr${suite.lab.id}/statistics/tx_bytes`, 'utf8')).trim());

async function push(): Promise<{ result: RunbookResult; ms: number; bridgeBytes: number }> {
  const before = await bridgeTx();
  const { result, ms } = await suite.run<RunbookResult>(
    'transferImages',
    [
      {
        inventory: suite.inventory,
        source: { kind: 'registry', plainHttp: [suite.lab.kubernetes.registry] },
        onFailure: 'abort',
      },
    ],
    'images',
  );
  return { result, ms, bridgeBytes: (await bridgeTx()) - before };
}

/** The delivery phase's results by host, or the import phase's. */
const delivered = (r: RunbookResult, phase: 'deliver' | 'import' = 'deliver'): Record<string, DeliverImagesResult> =>
  Object.fromEntries(
    r.steps
      .filter((s) => s.step === 'deliverImages' && s.phase.startsWith(phase))
      .map((s) => [s.host, s.result as DeliverImagesResult]),
  );
const filled = (r: RunbookResult): FillImageStoreResult =>
  r.steps.find((s) => s.step === 'fillImageStore')!.result as FillImageStoreResult;

/** What containerd on `host` lists in k8s.io: reference → digest (read in the host, not through our code). */
async function listed(host: string): Promise<Record<string, string>> {
  const out = (await suite.lab.exec(host, 'ctr -n k8s.io images ls')).stdout;
  return Object.fromEntries(
    out
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/))
      .filter((f) => f[2]?.startsWith('sha256:'))
      .map((f) => [f[0]!, f[2]!]),
  );
}

/** In the host: once a staged blob has grown past 4 MB, SIGKILL every sshd serving a connection (the children of
 * the listening sshd, the host's PID 1). Polls the file size with a deadline; prints the file and its size. */
const KILL_SSHD_MID_BLOB = `
d=/var/lib/kubeadm2ha/images/blobs/sha256
end=$(( $(date +%s) + 300 ))
while [ "$(date +%s)" -lt "$end" ]; do
  for f in "$d"/*.partial; do
    [ -f "$f" ] || continue
    s=$(stat -c %s "$f" 2>/dev/null || echo 0)
    if [ "$s" -gt 4000000 ]; then pkill -KILL -P 1 -x sshd; echo "\${f##*/} $s"; exit 0; fi
  done
done
exit 1`;

describe('transferImages on the real-Kubernetes lab', () => {
  it('every node gets its images by digest, relayed host to host; sshd killed on h1 mid-blob resumes at that blob; a second push sends nothing', async () => {
    const killer = suite.lab.exec('h1', KILL_SSHD_MID_BLOB, { allowFail: true });
    const first = await push();
    const kill = await killer;
    expect(kill.code).toBe(0);
    const [cutFile, cutSize] = kill.stdout.trim().split(' ');
    const fill = filled(first.result);
    const byHost = delivered(first.result);
    process.stderr.write(
      `[images push] 4 hosts, ${fill.images.length} images, set ${fill.uniqueBytes} bytes: ${first.ms} ms; ` +
        `operator bridge ${first.bridgeBytes} bytes (${(first.bridgeBytes / fill.uniqueBytes).toFixed(2)}x); sshd ` +
        `killed at ${cutSize} bytes of ${cutFile}; ${JSON.stringify(Object.values(byHost).map((d) => [d.host, d.from, d.bytesSent, d.ms]))}\n`,
    );

    // The cut blob went on from what had arrived, not from 0.
    const resumed = byHost.h1!.resumed;
    expect(resumed.map((r) => r.digest.slice(7))).toContain(cutFile!.replace('.partial', ''));
    expect(resumed.find((r) => cutFile!.startsWith(r.digest.slice(7)))!.from).toBeGreaterThanOrEqual(Number(cutSize));
    // The operator fed h1 only; everyone else got the images from a host before it (each feeds two).
    expect(Object.fromEntries(Object.values(byHost).map((d) => [d.host, d.from]))).toEqual({
      h1: 'operator',
      h2: 'h1',
      h3: 'h1',
      h4: 'h2',
    });
    expect(byHost.h2!.operatorBytes + byHost.h3!.operatorBytes + byHost.h4!.operatorBytes).toBe(0);
    // The operator's link carried the set about once (the cut attempt's bytes are not sent again).
    expect(first.bridgeBytes).toBeGreaterThan(fill.uniqueBytes);
    expect(first.bridgeBytes).toBeLessThan(1.2 * fill.uniqueBytes);

    const digests = Object.fromEntries(fill.images.map((i) => [i.ref, i.manifest.digest]));
    const list = planImageList(suite.inventory);
    for (const h of suite.inventory.hosts) {
      const got = await listed(h.name);
      for (const ref of imagesFor(h, list)) expect(got[ref], `${h.name}: ${ref}`).toBe(digests[ref]);
    }
    // The cut blob's ingest (h1's, and h2's behind it) was taken over by the attempt that resumed it: none is left.
    for (const h of suite.inventory.hosts) expect(await activeIngests(suite.lab, h.name), h.name).toEqual([]);
    // What the receivers kept from containerd's GC until the import was let go once verified: the images hold it now.
    for (const h of suite.inventory.hosts) {
      const kept = await suite.lab.exec(
        h.name,
        `ctr -n k8s.io content ls -q ${quote(`labels."${GC_ROOT_LABEL}"==${GC_ROOT_VALUE}`)}`,
      );
      expect(kept.stdout.trim(), h.name).toBe('');
    }
    // Workers do not get the control plane.
    expect(Object.keys(await listed('h4')).some((r) => r.includes('kube-apiserver'))).toBe(false);

    const second = await push();
    // The import phase brought nothing more over: every blob was staged by the delivery.
    for (const d of Object.values(delivered(first.result, 'import'))) {
      expect(d.bytesSent, d.host).toBe(0);
      expect(d.verified.length, d.host).toBeGreaterThan(0);
    }
    const again = [...Object.values(delivered(second.result)), ...Object.values(delivered(second.result, 'import'))];
    process.stderr.write(`[images push] second push: ${second.ms} ms, operator bridge ${second.bridgeBytes} bytes\n`);
    expect(filled(second.result).fetchedBytes).toBe(0);
    for (const d of again) {
      expect(d.bytesSent, d.host).toBe(0);
      expect(d.imported, d.host).toEqual([]);
    }
    // Only SSH commands crossed the bridge: far below one image.
    expect(second.bridgeBytes).toBeLessThan(2_000_000);
  }, 1_800_000);

  it('a blob damaged in the relaying host is caught on arrival and named: host, image, blob and where it came from', async () => {
    // h4 loses its images; h2 (which sends to h4) has one byte of kube-proxy's layer flipped in its content store.
    const proxy = filled((await push()).result).images.find((i) => i.ref.includes('/kube-proxy:'))!;
    const layer = proxy.blobs[proxy.blobs.length - 1]!;
    await suite.lab.exec(
      'h4',
      'ctr -n k8s.io images ls -q | xargs -r ctr -n k8s.io images rm >/dev/null; ctr -n k8s.io content ls -q | xargs -r ctr -n k8s.io content rm >/dev/null; true',
    );
    const file = `/var/lib/containerd/io.containerd.content.v1.content/blobs/sha256/${layer.digest.slice(7)}`;
    await suite.lab.exec(
      'h2',
      `printf '\\377' | dd of=${file} bs=1 seek=${Math.floor(layer.size / 2)} conv=notrunc status=none`,
    );
    const err = await push().then(
      () => undefined,
      (e: unknown) => e,
    );
    const messages: string[] = [];
    for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e)
      messages.push(String(e.message));
    expect(messages.join('\n')).toContain(
      `h4: deliverImages: image ${proxy.ref}: blob ${layer.digest}: what arrived from h2 does not match`,
    );
    // containerd refused the damaged bytes it was ingesting on h4; the receiver ended that ingest (ctr cannot abort
    // one) so the next attempt of the blob starts clean instead of resuming it.
    expect(await activeIngests(suite.lab, 'h4')).toEqual([]);
    // The failed run's undo (releaseImageBlobs) let go of what the receivers kept for imports that never verified:
    // h4's blobs that arrived before the damaged one among them. None stays pinned against containerd's GC.
    for (const h of suite.inventory.hosts) {
      const kept = await suite.lab.exec(
        h.name,
        `ctr -n k8s.io content ls -q ${quote(`labels."${GC_ROOT_LABEL}"==${GC_ROOT_VALUE}`)}`,
      );
      expect(kept.stdout.trim(), h.name).toBe('');
    }
    expect(messages.join('\n')).toContain('undone: cluster: releaseImageBlobs');
    expect(messages.join('\n')).not.toContain('undo FAILED');
  }, 1_800_000);
});
