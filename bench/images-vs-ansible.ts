// Benchmark: delivering an image set to N lab hosts running containerd, three ways in one run on the same hosts:
//   1. kubeadm2ha `images push` (transferImages workflow: store filled from an OCI layout, then every host at once,
//      each fed by one before it that forwards blobs while they arrive);
//   2. the seed's way (cluster-images.yaml): export each image to a tar, copy the tars with Ansible to every host
//      (ansible-playbook -f N, pipelining), import each with `ctr -n k8s.io images import`;
//   3. plain scp of the same tars to every host in parallel, then the same import.
// The image set is built here, deterministic in shape: a base layer of incompressible bytes shared by every image
// plus one layer of its own per image (like application images on one distro base). Each method starts from hosts
// with an empty containerd; each ends with every host listing every image. Prints wall time, the bytes the
// operator's side sent (the lab bridge's tx counter: hosts relaying to each other do not cross it) and ratios, and
// writes them as its own section of bench/RESULTS.md (replacing that section from an earlier run with as many hosts).
//
// BENCH_IMAGE_HOSTS (default 10; up to 80, the most one lab holds), BENCH_IMAGES, BENCH_BASE_MB, BENCH_APP_MB shape
// the run; BENCH_IMAGES_ONLY_OURS=1 runs ours alone (no table written). BENCH_RELAY_CIPHERS_AB=N runs ours alone 2N
// times instead, alternating the relays' cipher choice (KUBEADM2HA_RELAY_CIPHERS default, then auto: AES-GCM first),
// and prints each run and the medians (no table written).
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { writeAnsibleInventory } from './ansible-inventory.js';
import { createLab, type Lab } from '../lab/index.js';
import { RELAY_CIPHERS_ENV } from '../src/activities/images-host.js';
import { sshTrustOf } from '../src/activities/ssh-trust.js';
import { uniqueSize } from '../src/images/fill.js';
import { buildImage, MediaType, type Descriptor } from '../src/images/oci-layout.js';
import { sha256Digest } from '../src/images/store.js';
import { Inventory } from '../src/inventory/schema.js';
import type { ImageNeed } from '../src/plan/images.js';
import type { RunbookResult } from '../src/workflows/runbook.js';
import { dataConverter } from '../src/temporal/data-converter.js';
import { startDevServer, stopDevServer } from '../src/temporal/dev-server.js';
import { freePort } from '../src/temporal/process-util.js';
import { createKubeadmHaWorker } from '../src/worker.js';
import { installRedactingLogger } from '../src/worker/runtime-logging.js';
import { median } from './table.js';

const run = promisify(execFile);
const HOSTS = Number(process.env.BENCH_IMAGE_HOSTS ?? 10);
const IMAGES = Number(process.env.BENCH_IMAGES ?? 4);
const BASE_MB = Number(process.env.BENCH_BASE_MB ?? 80);
const APP_MB = Number(process.env.BENCH_APP_MB ?? 20);
/** Hosts each host feeds; unset: the workflow's default. */
const FAN_OUT = Number(process.env.BENCH_FANOUT ?? 0);
/** A line under the table (why this run's image set is smaller, say). */
const NOTE = process.env.BENCH_IMAGES_NOTE ?? '';

const CONTAINERD_CONFIG = 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n';

interface ImageSet {
  dir: string;
  refs: string[];
  uniqueBytes: number;
}

/** Base + own layer per image, all in one OCI layout (index.json names each image by reference). */
async function buildSet(dir: string): Promise<ImageSet> {
  const src = join(dir, 'src');
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'base'), randomBytes(BASE_MB << 20));
  const base = await buildImage(join(dir, 'base'), {
    files: [{ path: '/usr/lib/base.bin', source: join(src, 'base'), mode: 0o644 }],
    config: {},
    os: 'linux',
    architecture: 'amd64',
    gzipLevel: 1,
  });
  const layout = join(dir, 'set');
  const blobs = join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const copy = async (from: string, d: Descriptor) =>
    run('cp', [join(from, 'blobs', 'sha256', d.digest.slice(7)), join(blobs, d.digest.slice(7))]);
  await copy(base.dir, base.layer);
  const manifests: unknown[] = [];
  const refs: string[] = [];
  const all: { manifest: Descriptor; blobs: Descriptor[] }[] = [];
  for (let i = 1; i <= IMAGES; i++) {
    await writeFile(join(src, `app${i}`), randomBytes(APP_MB << 20));
    const app = await buildImage(join(dir, `app${i}`), {
      files: [{ path: `/app/app${i}.bin`, source: join(src, `app${i}`), mode: 0o755 }],
      config: {},
      os: 'linux',
      architecture: 'amd64',
      gzipLevel: 1,
    });
    await copy(app.dir, app.layer);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Entrypoint: [`/app/app${i}.bin`] },
        rootfs: { type: 'layers', diff_ids: [base.layer.diffId, app.layer.diffId] },
      }),
    );
    const configDesc = { mediaType: MediaType.config, digest: sha256Digest(config), size: config.length };
    await writeFile(join(blobs, configDesc.digest.slice(7)), config);
    const layers = [base.layer, app.layer].map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }));
    const manifest = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.manifest, config: configDesc, layers }),
    );
    const mDesc = { mediaType: MediaType.manifest, digest: sha256Digest(manifest), size: manifest.length };
    await writeFile(join(blobs, mDesc.digest.slice(7)), manifest);
    const ref = `bench.local/app${i}:v1`;
    refs.push(ref);
    all.push({ manifest: mDesc, blobs: [configDesc, ...layers] });
    manifests.push({
      ...mDesc,
      platform: { os: 'linux', architecture: 'amd64' },
      annotations: { 'org.opencontainers.image.ref.name': ref, 'io.containerd.image.name': ref },
    });
  }
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
  return { dir: layout, refs, uniqueBytes: uniqueSize(all.map((a, i) => ({ ref: refs[i]!, ...a }))) };
}

/** The seed's "export": one docker-archive-like tar per image (an OCI archive holding just that image). */
async function exportTars(set: ImageSet, dir: string): Promise<string[]> {
  const index = JSON.parse(await readFile(join(set.dir, 'index.json'), 'utf8')) as {
    manifests: (Descriptor & { annotations: Record<string, string> })[];
  };
  const tars: string[] = [];
  for (const [i, m] of index.manifests.entries()) {
    const one = join(dir, `img${i + 1}`);
    await mkdir(join(one, 'blobs', 'sha256'), { recursive: true });
    const manifest = JSON.parse(await readFile(join(set.dir, 'blobs', 'sha256', m.digest.slice(7)), 'utf8')) as {
      config: Descriptor;
      layers: Descriptor[];
    };
    for (const d of [m, manifest.config, ...manifest.layers]) {
      await run('cp', [join(set.dir, 'blobs', 'sha256', d.digest.slice(7)), join(one, 'blobs', 'sha256')]);
    }
    await writeFile(join(one, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(one, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [m] }));
    const tar = join(dir, `img${i + 1}.tar`);
    await run('tar', ['-C', one, '-cf', tar, 'oci-layout', 'index.json', 'blobs']);
    tars.push(tar);
  }
  return tars;
}

const bridgeTx = async (lab: Lab): Promise<number> =>
  Number((await readFile(`/sys/class/net/k2hbr${lab.id}/statistics/tx_bytes`, 'utf8')).trim());

async function resetHosts(lab: Lab): Promise<void> {
  await Promise.all(
    lab.hosts.map((h) =>
      lab.exec(
        h.name,
        'ctr -n k8s.io images ls -q | xargs -r ctr -n k8s.io images rm >/dev/null; ' +
          'ctr -n k8s.io content ls -q | xargs -r ctr -n k8s.io content rm >/dev/null; ' +
          'rm -rf /var/lib/kubeadm2ha /tmp/bench-images; true',
      ),
    ),
  );
}

async function checkHosts(lab: Lab, set: ImageSet, method: string): Promise<void> {
  for (const h of lab.hosts) {
    const out = (await lab.exec(h.name, 'ctr -n k8s.io images ls -q')).stdout;
    const missing = set.refs.filter((r) => !out.split('\n').includes(r));
    if (missing.length) throw new Error(`${method}: ${h.name} lacks ${missing.join(', ')}`);
  }
}

/** This run's table as its own section of bench/RESULTS.md: replaces the section of an earlier run with as many hosts,
 * keeps everything else (bench/run.ts writes the file first in `npm run bench`). */
async function writeSection(lines: string[]): Promise<void> {
  const file = join(import.meta.dirname, 'RESULTS.md');
  const begin = `<!-- images ${HOSTS} hosts -->`;
  const end = `<!-- /images ${HOSTS} hosts -->`;
  const old = await readFile(file, 'utf8').catch(() => '# kubeadm2ha benchmark\n');
  const i = old.indexOf(begin);
  const j = old.indexOf(end);
  const kept = i >= 0 && j > i ? old.slice(0, i) + old.slice(j + end.length).replace(/^\n+/, '') : old;
  await writeFile(file, `${kept.trimEnd()}\n\n${begin}\n${lines.join('\n')}\n${end}\n`);
}

async function measure(lab: Lab, set: ImageSet, method: string, f: () => Promise<string | void>) {
  await resetHosts(lab);
  const tx0 = await bridgeTx(lab);
  const load = loadavg()[0]!;
  const t0 = performance.now();
  const note = await f();
  const ms = performance.now() - t0;
  const bytes = (await bridgeTx(lab)) - tx0;
  await checkHosts(lab, set, method);
  console.log(`  ${method}: ${(ms / 1000).toFixed(1)} s, operator sent ${(bytes / 1e6).toFixed(0)} MB`);
  return { method, ms, bytes, load: [load, loadavg()[0]!] as const, note: note ?? '' };
}

/** The worker (and its workflow bundle) is made before the clock starts, as a running `kubeadm2ha worker` would be;
 * the timed part is the workflow run. */
async function ourWorker(inv: Inventory, address: string) {
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, dataConverter: dataConverter() });
  const native = await NativeConnection.connect({ address });
  const taskQueue = `bench-images-${process.pid}`;
  const w = await createKubeadmHaWorker({ connection: native, taskQueue, sshTrust: sshTrustOf(inv) });
  return {
    push: async (set: ImageSet): Promise<string> => {
      const images: ImageNeed[] = set.refs.map((ref) => ({ ref, source: 'bench', on: 'nodes' }));
      const t0 = Date.now();
      const result = (await w.run(
        client.workflow.execute('transferImages', {
          taskQueue,
          workflowId: `bench/${taskQueue}`,
          args: [
            {
              inventory: inv,
              images,
              source: { kind: 'oci-layout', dir: set.dir },
              onFailure: 'abort',
              ...(FAN_OUT && { fanOut: FAN_OUT }),
            },
          ],
        }),
      )) as RunbookResult;
      // Where the time went: each phase from the run's start to its last step's end, and its slowest activity.
      const phases = new Map<string, { end: number; slowest: number }>();
      for (const s of result.steps) {
        const p = phases.get(s.phase) ?? { end: 0, slowest: 0 };
        p.end = Math.max(p.end, Date.parse(s.at) - t0);
        p.slowest = Math.max(p.slowest, Number((s.result as { ms?: number }).ms ?? 0));
        phases.set(s.phase, p);
      }
      const split = [...phases]
        .map(([id, p]) => `${id} ${(p.end / 1000).toFixed(1)}/${(p.slowest / 1000).toFixed(1)}`)
        .join(', ');
      console.log(`  phases (done at s / slowest activity s): ${split}`);
      return `phases done at s / slowest activity s: ${split}`;
    },
    close: async () => {
      await native.close();
      await connection.close();
    },
  };
}

async function ansible(lab: Lab, tars: string[], dir: string): Promise<void> {
  await mkdir(join(dir, 'home'), { recursive: true });
  await writeAnsibleInventory(lab, dir);
  // cluster-images.yaml's shape: copy every archive, then import each.
  await writeFile(
    join(dir, 'images.yml'),
    [
      '- hosts: all',
      '  gather_facts: false',
      '  tasks:',
      '    - file: { path: /tmp/bench-images, state: directory }',
      '    - copy: { src: "{{ item }}", dest: /tmp/bench-images/ }',
      `      loop: ${JSON.stringify(tars)}`,
      '    - shell: ctr -n k8s.io images import {{ item }}',
      `      loop: ${JSON.stringify(tars.map((t) => `/tmp/bench-images/${t.split('/').pop()!}`))}`,
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'ansible.cfg'),
    [
      '[defaults]',
      `forks = ${HOSTS}`,
      `local_tmp = ${dir}/tmp`,
      'stdout_callback = dense',
      '[ssh_connection]',
      'pipelining = True',
      'ssh_args = -o ControlMaster=auto -o ControlPersist=60s',
      '',
    ].join('\n'),
  );
  await run('ansible-playbook', ['-i', 'inventory.ini', 'images.yml'], {
    cwd: dir,
    env: { ...process.env, ANSIBLE_CONFIG: join(dir, 'ansible.cfg'), ANSIBLE_HOME: join(dir, 'home') },
    maxBuffer: 64 << 20,
  });
}

function sh(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err.slice(-500)}`))));
  });
}

async function scp(lab: Lab, tars: string[]): Promise<void> {
  await Promise.all(
    lab.hosts.map(async (h) => {
      const o = ['-F', lab.sshConfigPath];
      await sh('ssh', [...o, h.name, 'mkdir -p /tmp/bench-images']);
      await sh('scp', ['-q', ...o, ...tars, `${h.name}:/tmp/bench-images/`]);
      await sh('ssh', [
        ...o,
        h.name,
        'for t in /tmp/bench-images/*.tar; do ctr -n k8s.io images import "$t" >/dev/null; done',
      ]);
    }),
  );
}

installRedactingLogger();
const lab = await createLab({ hosts: HOSTS, readyTimeoutMs: 180_000 });
const server = {
  port: await freePort(),
  headless: true,
  dbFile: join(lab.dir, 'bench-temporal.db'),
  logLevel: 'error' as const,
};
process.env.KUBEADM2HA_STATE_DIR = join(lab.dir, 'state');
try {
  await Promise.all(
    lab.hosts.map((h) =>
      lab.exec(
        h.name,
        `mkdir -p /etc/containerd && printf '%s' '${CONTAINERD_CONFIG}' > /etc/containerd/config.toml && ` +
          'setsid nohup /usr/bin/containerd </dev/null >>/var/log/containerd.log 2>&1 & true',
      ),
    ),
  );
  for (const h of lab.hosts) {
    const deadline = Date.now() + 60_000;
    while ((await lab.exec(h.name, 'ctr --timeout 2s version >/dev/null 2>&1', { allowFail: true })).code !== 0) {
      if (Date.now() > deadline) throw new Error(`${h.name}: containerd did not answer within 60 s`);
    }
  }
  const inv = Inventory.parse(lab.inventory());
  const info = await startDevServer(server);
  const work = join(lab.dir, 'bench-images');
  const set = await buildSet(work);
  const tarMB = (IMAGES * (BASE_MB + APP_MB) * 1.048576) | 0;
  console.log(
    `bench images: ${HOSTS} hosts, ${IMAGES} images of ${BASE_MB} MB shared base + ${APP_MB} MB own layer; set ${(set.uniqueBytes / 1e6).toFixed(0)} MB once, ${tarMB} MB as tars`,
  );
  const results: Awaited<ReturnType<typeof measure>>[] = [];
  const rounds = Number(process.env.BENCH_RELAY_CIPHERS_AB ?? 0);
  if (rounds > 0) {
    const modes = ['default', 'auto'] as const;
    const ms: Record<(typeof modes)[number], number[]> = { default: [], auto: [] };
    for (let i = 0; i < rounds; i++)
      for (const mode of modes) {
        process.env[RELAY_CIPHERS_ENV] = mode;
        const w = await ourWorker(inv, info.address);
        const r = await measure(lab, set, `images push, relay ciphers ${mode}`, () => w.push(set));
        await w.close();
        ms[mode].push(r.ms);
      }
    console.log(
      `relay ciphers A/B, ${rounds} rounds: default (chacha20-poly1305) ${ms.default.map((m) => (m / 1000).toFixed(1)).join('/')} s, ` +
        `median ${(median(ms.default) / 1000).toFixed(1)}; auto (AES-GCM first) ${ms.auto.map((m) => (m / 1000).toFixed(1)).join('/')} s, ` +
        `median ${(median(ms.auto) / 1000).toFixed(1)}`,
    );
  }
  const ours = rounds > 0 ? undefined : await ourWorker(inv, info.address);
  if (ours) results.push(await measure(lab, set, 'kubeadm2ha images push', () => ours.push(set)));
  await ours?.close();
  // Else a quick look at ours alone (BENCH_IMAGES_ONLY_OURS=1).
  if (process.env.BENCH_IMAGES_ONLY_OURS !== '1' && rounds === 0) {
    results.push(
      await measure(lab, set, "seed's way (export, ansible copy, import)", async () => {
        const tars = await exportTars(set, join(work, 'tars-ansible'));
        await ansible(lab, tars, join(work, 'ansible'));
        return `ansible-playbook, forks ${HOSTS}, pipelining, ControlPersist`;
      }),
    );
    results.push(
      await measure(lab, set, 'plain scp of the tars, then import', async () => {
        const tars = await exportTars(set, join(work, 'tars-scp'));
        await scp(lab, tars);
        return 'one scp per host, all hosts at once';
      }),
    );
    // Ours once more after the others: the load on a shared machine drifts within a run; the table shows both.
    // (a worker runs once: a fresh one, made before the clock starts like the first).
    const again = await ourWorker(inv, info.address);
    results.push(await measure(lab, set, 'kubeadm2ha images push, again after the others', () => again.push(set)));
    await again.close();
    const seed = results[1]!;
    const table = [
      `## Images onto ${HOSTS} hosts: \`images push\` vs the seed's way vs plain scp`,
      '',
      `One run of bench/images-vs-ansible.ts, ${new Date().toISOString()}: ${HOSTS} lab hosts running containerd, ` +
        `${IMAGES} images of a ${BASE_MB} MB shared base layer and a ${APP_MB} MB layer of their own ` +
        `(${(set.uniqueBytes / 1e6).toFixed(0)} MB unique, ${tarMB} MB as one tar per image), every host starting ` +
        "empty and ending with every image listed by containerd (k8s.io). Operator bytes: the lab bridge's tx counter. " +
        "Targets: at least 3x faster than the seed's way at 10 hosts, operator bytes at most 1.2x the unique set.",
      '',
      "| method | wall s | operator MB | operator / unique set | faster than the seed's way | load at start / end | notes |",
      '|---|---|---|---|---|---|---|',
      ...results.map(
        (r) =>
          `| ${r.method} | ${(r.ms / 1000).toFixed(1)} | ${(r.bytes / 1e6).toFixed(0)} | ` +
          `${(r.bytes / set.uniqueBytes).toFixed(2)}x | ${(seed.ms / r.ms).toFixed(2)}x | ` +
          `${r.load[0].toFixed(1)} / ${r.load[1].toFixed(1)} | ${r.note} |`,
      ),
      ...(NOTE ? ['', NOTE] : []),
    ];
    console.log(`\n${table.join('\n')}`);
    await writeSection(table);
  }
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  console.log(`(load average at the end: ${load})`);
} finally {
  await stopDevServer(server).catch(() => undefined);
  await lab.destroy();
}
