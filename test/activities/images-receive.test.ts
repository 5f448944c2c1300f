// The receiver of `images push` (RECEIVE_SCRIPT, as shipped, at its own path) against a real containerd on a lab
// host: what it leaves in containerd's content store when a blob is cut, damaged, or arrives while containerd still
// holds an older copy of it under the blob's ingest ref. ctr cannot abort an ingest; these cases pin the ctr
// behaviours the receiver relies on instead (an ingest from a file resumes containerd's copy where it stopped; one
// without an expected digest commits whatever containerd holds) and check that no unfinished ingest stays behind.
// The lab tests of the workflow (test/workflows/images.test.ts) cover a cut through a killed sshd and a damaged
// relay; these are the cases around them, each in a second or two.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLEANUP_SCRIPT,
  GC_ROOT_LABEL,
  GC_ROOT_VALUE,
  RECEIVE_PATH,
  RECEIVE_SCRIPT,
  RELEASE_SCRIPT,
  STAGING_DIR,
} from '../../src/activities/images-host.js';
import { quote, shellCommand } from '../../src/ssh/quote.js';
import { createLab, type Lab } from '../../lab/index.js';
import { writeFileCommand } from '../../lab/k8s/node.js';
import { importOneLayerImage, oneLayerImage } from '../support/one-layer-image.js';
import { activeIngests } from '../support/k8s-cluster.js';
import { startPlainContainerd } from '../support/plain-containerd.js';

let lab: Lab;
const BLOBS = `${STAGING_DIR}/blobs/sha256`;
const sh = async (cmd: string): Promise<string> => (await lab.exec('h1', cmd)).stdout;

/** A blob of `size` random bytes at /tmp/<name> in the host; its sha256 hex. */
const blob = async (name: string, size: number): Promise<string> =>
  (await sh(`head -c ${size} /dev/urandom > /tmp/${name} && sha256sum < /tmp/${name} | cut -d' ' -f1`)).trim();

/** /tmp/<to>: /tmp/<from> with one byte flipped in its middle. */
const damaged = (from: string, to: string, size: number): Promise<string> =>
  sh(
    `cp /tmp/${from} /tmp/${to} && printf '\\377' | ` +
      `dd of=/tmp/${to} bs=1 seek=${size >> 1} conv=notrunc status=none`,
  );

/** One frame per part (header "<hex> <offset> <size>", then `bytes`, a command printing the bytes sent) into the
 * receiver; its output and exit code. */
async function receive(parts: { hex: string; offset: number; size: number; bytes: string }[]) {
  const stream = parts.map((p) => `printf '%s %s %s\\n' ${p.hex} ${p.offset} ${p.size}; ${p.bytes}`).join('; ');
  const r = await lab.exec('h1', `{ ${stream}; } | ${quote(RECEIVE_PATH)}`, { allowFail: true });
  return { out: r.stdout.trim(), code: r.code };
}

const active = (): Promise<string[]> => activeIngests(lab, 'h1');
const has = async (hex: string): Promise<boolean> =>
  (await sh('ctr -n k8s.io content ls -q')).split('\n').includes(`sha256:${hex}`);
const partialSize = async (hex: string): Promise<number> => Number(await sh(`stat -c %s ${BLOBS}/${hex}.partial`));

beforeAll(async () => {
  lab = await createLab({ hosts: 1 });
  await startPlainContainerd(lab, 'h1', [writeFileCommand(RECEIVE_PATH, RECEIVE_SCRIPT, '0755')]);
}, 180_000);

afterAll(async () => {
  await lab?.destroy();
});

describe('the images receiver against containerd: no unfinished ingest is left behind', () => {
  it('a cut blob: the stream stops at the cut, containerd keeps its copy; the resumed blob takes it over', async () => {
    const hex = await blob('cut', 6_000_000);
    expect(await receive([{ hex, offset: 0, size: 6_000_000, bytes: 'head -c 2500000 /tmp/cut' }])).toEqual({
      out: `short ${hex} 2500000`,
      code: 3,
    });
    expect(await active()).toHaveLength(1);
    const off = await partialSize(hex);
    const r = await receive([{ hex, offset: off, size: 6_000_000, bytes: `tail -c +${off + 1} /tmp/cut` }]);
    expect(r).toEqual({ out: `ok ${hex}`, code: 0 });
    expect(await active()).toEqual([]);
    expect(await has(hex)).toBe(true);
  });

  it('a damaged blob: named bad, containerd holds nothing of it; the next good arrival goes in through the pipe', async () => {
    const hex = await blob('good', 3_000_000);
    await damaged('good', 'bad', 3_000_000);
    const bad = (await sh('sha256sum < /tmp/bad | cut -d" " -f1')).trim();
    expect(await receive([{ hex, offset: 0, size: 3_000_000, bytes: 'cat /tmp/bad' }])).toEqual({
      out: `bad ${hex} 3000000 ${bad}`,
      code: 0,
    });
    expect(await active()).toEqual([]);
    expect(await receive([{ hex, offset: 0, size: 3_000_000, bytes: 'cat /tmp/good' }])).toEqual({
      out: `ok ${hex}`,
      code: 0,
    });
    expect(await has(hex)).toBe(true);
    expect(await active()).toEqual([]);
  });

  it('a blob resumed with damaged bytes after the cut: bad, no ingest left; sent again whole, it goes in', async () => {
    const hex = await blob('res', 6_000_000);
    await damaged('res', 'resbad', 6_000_000);
    await receive([{ hex, offset: 0, size: 6_000_000, bytes: 'head -c 2000000 /tmp/res' }]);
    const off = await partialSize(hex);
    const r = await receive([{ hex, offset: off, size: 6_000_000, bytes: `tail -c +${off + 1} /tmp/resbad` }]);
    expect(r.out).toMatch(new RegExp(`^bad ${hex} 6000000 `));
    expect(await active()).toEqual([]);
    expect(await receive([{ hex, offset: 0, size: 6_000_000, bytes: 'cat /tmp/res' }])).toEqual({
      out: `ok ${hex}`,
      code: 0,
    });
    expect(await has(hex)).toBe(true);
  });

  it('whole from the start while containerd holds an older copy under the ref (cut, or damaged): taken over', async () => {
    // A cut copy whose staged .partial is gone (the staging dir was cleaned), and a damaged whole one left by a
    // receiver before this one: ctr cannot seek a pipe to where either stopped, so the receiver goes on from its file.
    const cut = await blob('stale-cut', 6_000_000);
    await receive([{ hex: cut, offset: 0, size: 6_000_000, bytes: 'head -c 2500000 /tmp/stale-cut' }]);
    await sh(`rm ${BLOBS}/${cut}.partial`);
    const whole = await blob('stale-bad', 3_000_000);
    await damaged('stale-bad', 'stale-bad.x', 3_000_000);
    await lab.exec(
      'h1',
      `ctr -n k8s.io content ingest --expected-size 3000000 --expected-digest sha256:${whole} kubeadm2ha-${whole} < /tmp/stale-bad.x`,
      { allowFail: true },
    );
    expect(await active()).toHaveLength(2);
    const r = await receive([
      { hex: cut, offset: 0, size: 6_000_000, bytes: 'cat /tmp/stale-cut' },
      { hex: whole, offset: 0, size: 3_000_000, bytes: 'cat /tmp/stale-bad' },
    ]);
    expect(r).toEqual({ out: `ok ${cut}\nok ${whole}`, code: 0 });
    expect(await active()).toEqual([]);
    expect(await has(cut)).toBe(true);
    expect(await has(whole)).toBe(true);
  });

  it('damaged bytes that are another blob containerd has: bad, and that blob stays', async () => {
    const hex = await blob('wanted', 1_000_000);
    const other = await blob('other', 1_000_000);
    await sh(
      `ctr -n k8s.io content ingest --expected-size 1000000 --expected-digest sha256:${other} other < /tmp/other`,
    );
    expect(await receive([{ hex, offset: 0, size: 1_000_000, bytes: 'cat /tmp/other' }])).toEqual({
      out: `bad ${hex} 1000000 ${other}`,
      code: 0,
    });
    expect(await active()).toEqual([]);
    expect(await has(other)).toBe(true);
  });
});

describe("containerd's garbage collector between a push's ingest and its import", () => {
  /** What runs containerd 1.6's GC now: the synchronous delete of a lease (as `ctr content prune` does it). */
  const collectGarbage = () =>
    sh('ctr -n k8s.io leases create --id k2h-test-gc >/dev/null && ctr -n k8s.io leases delete --sync k2h-test-gc');

  it('the blobs received stay in containerd through a GC (one cut before its staged rename too), the import succeeds, and cleanup lets them go', async () => {
    // A one-layer image, made here: an uncompressed tar layer, its config, its manifest.
    const image = await oneLayerImage(sh, 'gc-', 'kept through gc');
    const { layer, parts } = image;
    const unrelated = await blob('gc-unrelated', 100_000);
    const r = await receive([
      ...parts.map(([d, f]) => ({ hex: d.hex, offset: 0, size: d.size, bytes: `cat /tmp/${f}` })),
      { hex: unrelated, offset: 0, size: 100_000, bytes: 'cat /tmp/gc-unrelated' },
    ]);
    expect(r.out.split('\n')).toEqual([...parts.map(([d]) => `ok ${d.hex}`), `ok ${unrelated}`]);
    // The state a receiver cut after containerd took the layer, before its staged copy was renamed, leaves: a retry
    // sees containerd's copy and sends nothing, and the import (which takes only renamed staged blobs) relies on it.
    await sh(`mv ${BLOBS}/${layer.hex} ${BLOBS}/${layer.hex}.partial`);

    await collectGarbage();
    for (const [d] of parts) expect(await has(d.hex)).toBe(true);

    const ref = 'k2h.test/gc:1';
    await importOneLayerImage(sh, image, ref);
    expect(await sh('ctr -n k8s.io images ls -q')).toContain(ref);

    // Verified: cleanup drops what kept them; the image holds its blobs, the unrelated blob goes with the next GC.
    await lab.exec('h1', shellCommand(['sh', '-c', CLEANUP_SCRIPT, 'sh', STAGING_DIR]));
    expect(await sh('ctr -n k8s.io content ls')).not.toContain('containerd.io/gc.root');
    await collectGarbage();
    for (const [d] of parts) expect(await has(d.hex)).toBe(true);
    expect(await has(unrelated)).toBe(false);
    await sh(`ctr -n k8s.io images rm ${ref} >/dev/null; rm -f ${BLOBS}/${layer.hex}.partial`);
  });

  it('a push that never imports (failed, aborted): RELEASE_SCRIPT, what its undo and uninstall run, lets the kept blobs go to the GC', async () => {
    const kept = () => sh(`ctr -n k8s.io content ls -q ${quote(`labels."${GC_ROOT_LABEL}"==${GC_ROOT_VALUE}`)}`);
    const a = await blob('rel-a', 200_000);
    const b = await blob('rel-b', 300_000);
    const r = await receive([
      { hex: a, offset: 0, size: 200_000, bytes: 'cat /tmp/rel-a' },
      { hex: b, offset: 0, size: 300_000, bytes: 'cat /tmp/rel-b' },
    ]);
    expect(r.out.split('\n')).toEqual([`ok ${a}`, `ok ${b}`]);
    expect((await kept()).trim().split('\n').sort()).toEqual([`sha256:${a}`, `sha256:${b}`].sort());

    expect((await sh(shellCommand(['sh', '-c', RELEASE_SCRIPT]))).trim()).toBe('2');
    expect((await kept()).trim()).toBe('');
    await collectGarbage();
    expect(await has(a)).toBe(false);
    expect(await has(b)).toBe(false);
    // Idempotent: a second undo, or uninstall after it, finds nothing.
    expect((await sh(shellCommand(['sh', '-c', RELEASE_SCRIPT]))).trim()).toBe('0');
    await sh(`rm -f ${BLOBS}/${a} ${BLOBS}/${b}`);
  });

  it("a blob with an operator's own GC root label keeps it through the receiver and the release", async () => {
    const mine = `${GC_ROOT_LABEL}=operator`;
    const a = await blob('own-a', 100_000);
    await sh(`ctr -n k8s.io content ingest --expected-size 100000 --expected-digest sha256:${a} own-a < /tmp/own-a`);
    await sh(`ctr -n k8s.io content label sha256:${a} ${quote(mine)}`);
    const r = await receive([{ hex: a, offset: 0, size: 100_000, bytes: 'cat /tmp/own-a' }]);
    expect(r.out).toBe(`ok ${a}`);
    expect((await sh(shellCommand(['sh', '-c', RELEASE_SCRIPT]))).trim()).toBe('0');
    expect(await sh(`ctr -n k8s.io content ls | grep ${a}`)).toContain(mine);
    await sh(`ctr -n k8s.io content label sha256:${a} ${quote(`${GC_ROOT_LABEL}=`)} && rm -f ${BLOBS}/${a}`);
  });
});
