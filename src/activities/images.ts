// `images push` activities. fillImageStore fills the worker's local store (src/images/store.ts) from the source,
// with registry credentials from the worker's own environment. deliverImages brings one host the images it needs:
// it skips what the host's containerd already has by digest, streams each missing blob either from the worker's
// store or, relayed, from another host that already has it (host to host over SSH with a throwaway key, so the
// operator's uplink carries each byte about once), resumes a blob that a dropped connection cut from the size that
// arrived, checks every blob's sha256, imports into containerd's k8s.io namespace and finally lists the host's images
// by digest: a mismatch names host and image.
import { randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { BlobDigestError, defaultImageStore, hexOf, type StoredImage } from '../images/store.js';
import { credentialsFromEnv, fillStore, type FillResult, type ImageSource } from '../images/fill.js';
import { ociArchitecture, type Descriptor } from '../images/oci-layout.js';
import { FailureType, KubeadmHaError } from '../errors.js';
import type { HostContext, HostTarget } from '../plan/types.js';
import { relayKeyPair } from '../ssh/relay-key.js';
import type { HostSession } from '../ssh/index.js';
import { heartbeat } from './activity-context.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import {
  AUTHORIZE_SCRIPT,
  CLEANUP_SCRIPT,
  frameHeader,
  IMPORT_SCRIPT,
  IMPORT_STATE_SCRIPT,
  importIndex,
  INDEX_AND_BACKGROUND_IMPORT_SCRIPT,
  INDEX_AND_IMPORT_SCRIPT,
  parseState,
  parseVerdicts,
  PREPARE_SCRIPT,
  RECEIVE_PATH,
  RECEIVE_SCRIPT,
  RELAY_DIR,
  RELAY_FILES_SCRIPT,
  RELEASE_SCRIPT,
  RELAY_SEND_SCRIPT,
  relayCiphers,
  REVOKE_SCRIPT,
  STAGED_BYTES_SCRIPT,
  STAGING_DIR,
  STATE_SCRIPT,
  type Frame,
  type HostImageState,
} from './images-host.js';

export interface FillImageStoreInput {
  refs: string[];
  source: ImageSource;
}

export type FillImageStoreResult = FillResult;

export interface DeliverImagesInput {
  host: HostContext;
  /** Every image of the run as the store holds it (bound from fillImageStore). */
  images: StoredImage[];
  /** The references this host needs. */
  refs: string[];
  /** A host that already has the images and sends them on; absent: the worker's store. */
  from?: HostTarget;
  /** Only stage the blobs (the delivery phase); a later call without it imports and verifies. */
  stageOnly?: boolean;
}

export interface DeliverImagesResult {
  host: string;
  /** Where the bytes came from: a host's name, or 'operator'. */
  from: string;
  /** References the host already had with the right digest. */
  alreadyPresent: string[];
  imported: string[];
  /** Blobs sent in this attempt, and their bytes. */
  blobsSent: number;
  bytesSent: number;
  /** Bytes that left the worker (the operator's uplink): bytesSent when from the store, 0 when relayed. */
  operatorBytes: number;
  /** Blobs whose transfer went on from bytes an earlier, cut attempt had left. */
  resumed: { digest: string; from: number }[];
  /** Blobs the host's containerd already had (shared with images it has). */
  blobsPresent: number;
  /** Every needed reference with the digest the host lists after the import. */
  verified: { ref: string; digest: string }[];
  ms: number;
}

const TRANSFER_TIMEOUT_MS = 60 * 60_000;
const IMPORT_TIMEOUT_MS = 30 * 60_000;

/** Whether a background import runs on the host: none, running, done <code>, lost. */
async function importState(session: HostSession): Promise<string> {
  const r = await session.run(['sh', '-c', IMPORT_STATE_SCRIPT, 'sh', STAGING_DIR], {
    action: 'look at the background import',
    timeoutMs: 30_000,
  });
  return r.stdout.trim();
}

/** Byte counter with a rate, heartbeating at most every second. */
class Progress {
  private readonly t0 = Date.now();
  private last = 0;
  bytes = 0;
  constructor(
    readonly host: string,
    readonly total: number,
  ) {}
  add(n: number, blob: string): void {
    this.bytes += n;
    this.beat(blob);
  }
  set(bytes: number, blob: string): void {
    this.bytes = bytes;
    this.beat(blob);
  }
  private beat(blob: string): void {
    const now = Date.now();
    if (now - this.last < 1000) return;
    this.last = now;
    const s = Math.max(0.001, (now - this.t0) / 1000);
    heartbeat({
      host: this.host,
      blob,
      bytes: this.bytes,
      total: this.total,
      bytesPerSecond: Math.round(this.bytes / s),
    });
  }
}

/** The first image (of those this host needs) that holds `digest`: for error messages. */
const imageOf = (images: readonly StoredImage[], digest: string): string =>
  images.find((i) => i.manifest.digest === digest || i.blobs.some((b) => b.digest === digest))?.ref ?? '?';

async function hostState(session: HostSession): Promise<HostImageState> {
  const r = await session.run(['sh', '-c', STATE_SCRIPT, 'sh', STAGING_DIR], {
    action: 'list containerd images and staged blobs',
    timeoutMs: 60_000,
    maxStdoutBytes: 8 << 20,
  });
  return parseState(r.stdout);
}

/** A delivery's first command: the receiver installed, the host's state and host keys, in one round trip. */
async function prepare(session: HostSession): Promise<HostImageState> {
  const r = await session.run(['sh', '-c', PREPARE_SCRIPT, 'sh', STAGING_DIR, RECEIVE_PATH, RECEIVE_SCRIPT], {
    action: 'install the receiver, list containerd images and staged blobs',
    timeoutMs: 60_000,
    maxStdoutBytes: 8 << 20,
  });
  return parseState(r.stdout);
}

/** A relay from `source` to `dest`: a throwaway key authorized on dest (forced command RECEIVE_PATH), its private
 * half and dest's host keys (`hostKeys`, read by prepare) on source, both at once; `send` runs with them in place,
 * and everything is removed afterwards (both at once). */
async function withRelay<T>(
  source: HostSession,
  dest: HostSession,
  destCtx: HostContext,
  hostKeys: readonly string[],
  send: (relay: { key: string; knownHosts: string; port: number; user: string }) => Promise<T>,
): Promise<T> {
  const nonce = randomBytes(8).toString('hex');
  const marker = `kubeadm2ha-relay-${nonce}`;
  const { privateKey, publicKey } = relayKeyPair(marker);
  const user = destCtx.target.user ?? destCtx.ssh.user;
  const port = destCtx.target.port ?? destCtx.ssh.port;
  const address = destCtx.target.address;
  if (!hostKeys.length)
    throw new KubeadmHaError(
      `no host keys in /etc/ssh to relay images to`,
      FailureType.HostNotSuitable,
      destCtx.target.name,
    );
  const name = port === 22 ? address : `[${address}]:${port}`;
  const knownHosts = hostKeys.map((k) => `${name} ${k}\n`).join('');
  const dir = `${RELAY_DIR}/${nonce}`;
  const key = Buffer.from(privateKey);
  const placed = await Promise.allSettled([
    dest.run(['sh', '-c', AUTHORIZE_SCRIPT, 'sh', user, `restrict,command="${RECEIVE_PATH}" ${publicKey}`], {
      action: 'authorize relay key',
    }),
    source.run(['sh', '-c', RELAY_FILES_SCRIPT, 'sh', dir, String(key.length)], {
      action: 'place relay key',
      stdin: Buffer.concat([key, Buffer.from(knownHosts)]),
    }),
  ]);
  try {
    const failed = placed.find((p): p is PromiseRejectedResult => p.status === 'rejected');
    if (failed) throw failed.reason;
    return await send({ key: `${dir}/key`, knownHosts: `${dir}/known_hosts`, port, user });
  } finally {
    // Best effort: a cleanup failure must not hide what happened; the key is useless once revoked on dest.
    await Promise.all([
      dest.run(['sh', '-c', REVOKE_SCRIPT, 'sh', user, marker], { action: 'revoke relay key' }).catch(() => undefined),
      source.run(['rm', '-rf', '--', dir], { action: 'remove relay key' }).catch(() => undefined),
    ]);
  }
}

export interface ReleaseImageBlobsInput {
  /** Every host the push delivers to. */
  hosts: HostContext[];
}

export interface ReleaseImageBlobsResult {
  /** Per host, how many blobs it let go. */
  released: Record<string, number>;
}

export function createImageActivities(deps: ActivityDeps) {
  return {
    /** A push's undo (a failed or aborted run): on every host it delivers to, the blobs the receiver kept from
     * containerd's GC for an import that never verified them are let go (RELEASE_SCRIPT), so none stays pinned.
     * Every host is tried; those not reached are named in the failure after the rest were done. Idempotent. */
    async releaseImageBlobs({ hosts }: ReleaseImageBlobsInput): Promise<ReleaseImageBlobsResult> {
      return withFailures(async () => {
        const released: Record<string, number> = {};
        const failed: string[] = [];
        await Promise.all(
          hosts.map(async (host) => {
            const name = host.target.name;
            try {
              const r = await deps
                .session(host)
                .run(['sh', '-c', RELEASE_SCRIPT], { action: 'let go of the blobs kept for the import' });
              // RELEASE_SCRIPT's last line is the count; anything else is a failure here, not a silent 0.
              const last = r.stdout.trim().split('\n').pop() ?? '';
              if (!/^\d+$/.test(last)) throw new Error(`printed no count of blobs let go: ${JSON.stringify(last)}`);
              released[name] = Number(last);
            } catch (err) {
              failed.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
            }
          }),
        );
        if (failed.length)
          throw new KubeadmHaError(
            `blobs kept for an import not let go (containerd's GC keeps them until a push verifies the host's images or uninstall): ${failed.sort().join('; ')}`,
            FailureType.CommandFailed,
          );
        return { released };
      });
    },

    async fillImageStore({ refs, source }: FillImageStoreInput): Promise<FillImageStoreResult> {
      return withFailures(async () => {
        const store = await defaultImageStore();
        let bytes = 0;
        let last = 0;
        return fillStore(store, refs, source, {
          credentials: credentialsFromEnv(),
          onBytes: (n) => {
            bytes += n;
            if (Date.now() - last > 1000) {
              last = Date.now();
              heartbeat({ fetchedBytes: bytes });
            }
          },
        });
      });
    },

    async deliverImages({ host, images, refs, from, stageOnly }: DeliverImagesInput): Promise<DeliverImagesResult> {
      return withFailures(async () => {
        const t0 = Date.now();
        const name = host.target.name;
        const session = deps.session(host);
        const wanted = refs.map((ref) => {
          const img = images.find((i) => i.ref === ref);
          if (!img) throw new KubeadmHaError(`image ${ref} is not in the store's list`, FailureType.InvalidInput);
          return img;
        });
        const state = await prepare(session);
        const missing = wanted.filter((i) => state.images.get(i.ref) !== i.manifest.digest);
        const result: DeliverImagesResult = {
          host: name,
          from: from?.name ?? 'operator',
          alreadyPresent: wanted.filter((i) => !missing.includes(i)).map((i) => i.ref),
          imported: [],
          blobsSent: 0,
          bytesSent: 0,
          operatorBytes: 0,
          resumed: [],
          blobsPresent: 0,
          verified: [],
          ms: 0,
        };
        const blobs = new Map<string, Descriptor>();
        for (const i of missing) for (const d of [i.manifest, ...i.blobs]) blobs.set(d.digest, d);
        const toSend: { d: Descriptor; offset: number }[] = [];
        for (const d of blobs.values()) {
          const hex = hexOf(d.digest);
          if (state.content.has(d.digest)) result.blobsPresent++;
          else if (state.staged.get(hex) !== d.size) {
            const partial = state.staged.get(`${hex}.partial`) ?? 0;
            toSend.push({ d, offset: partial < d.size ? partial : 0 });
          }
        }
        const progress = new Progress(
          name,
          toSend.reduce((n, b) => n + b.d.size - b.offset, 0),
        );
        const store = from ? undefined : await defaultImageStore();
        const source = from ? deps.session({ target: from, ssh: host.ssh }) : undefined;

        /** The receiver's verdict on each blob sent: a damaged one is named (host, image, blob, source). */
        const judge = async (out: string): Promise<void> => {
          const verdicts = new Map(parseVerdicts(out).map((v) => [v.hex, v]));
          for (const { d } of toSend) {
            const v = verdicts.get(hexOf(d.digest));
            if (v?.ok) continue;
            const image = imageOf(wanted, d.digest);
            if (v && store) {
              // Our own copy first: a damaged store is named as such, and retrying would only send it again.
              await store.verify(image, d).catch((err: unknown) => {
                throw err instanceof BlobDigestError
                  ? new BlobDigestError(
                      'store',
                      image,
                      d.digest,
                      'the stored copy is damaged',
                      FailureType.HostNotSuitable,
                    )
                  : err;
              });
            }
            throw new BlobDigestError(
              name,
              image,
              d.digest,
              v
                ? `what arrived from ${result.from} does not match: ${v.size} bytes hashing to sha256:${v.sha256} (removed, to be sent again)`
                : `what arrived from ${result.from} was not acknowledged by the receiver`,
            );
          }
        };

        const frames: Frame[] = toSend.map(({ d, offset }) => ({ hex: hexOf(d.digest), offset, size: d.size }));

        /** Every missing blob in one stream on one channel, framed as the receiver reads them. */
        const sendFromStore = async (): Promise<string> => {
          const counter = new Transform({
            transform(chunk: Buffer, _enc, cb) {
              progress.add(chunk.length, 'stream');
              result.bytesSent += chunk.length;
              result.operatorBytes += chunk.length;
              cb(null, chunk);
            },
          });
          const s = store!;
          async function* stream(): AsyncGenerator<Buffer> {
            for (const { d, offset } of toSend) {
              yield Buffer.from(frameHeader({ hex: hexOf(d.digest), offset, size: d.size }));
              for await (const chunk of s.openBlob(d, offset)) yield chunk as Buffer;
            }
          }
          const input = Readable.from(stream());
          input.on('error', (e) => counter.destroy(e));
          const r = await session.run([RECEIVE_PATH], {
            stdin: input.pipe(counter),
            action: `receive ${frames.length} blobs`,
            timeoutMs: TRANSFER_TIMEOUT_MS,
          });
          return r.stdout;
        };

        /** The same stream from a host that has the blobs, over one SSH connection from it to this host. */
        const sendRelayed = async (relay: {
          key: string;
          knownHosts: string;
          port: number;
          user: string;
        }): Promise<string> => {
          const staged = async (): Promise<number> =>
            Number(
              (
                await session.run(['sh', '-c', STAGED_BYTES_SCRIPT, 'sh', STAGING_DIR], {
                  action: 'watch relay',
                  timeoutMs: 10_000,
                })
              ).stdout.trim(),
            ) || 0;
          const base = [...state.staged.values()].reduce((n, b) => n + b, 0);
          // The bytes flow host to host; we watch the receiving end's staging directory grow for the heartbeat (every
          // 5 s: each look is a command on the host; the worker beats for a running activity anyway).
          const timer = setInterval(() => {
            void staged()
              .then((n) => progress.set(Math.max(0, n - base), 'relay'))
              .catch(() => undefined);
          }, 5000);
          try {
            const r = await source!.run(
              [
                'bash',
                '-c',
                RELAY_SEND_SCRIPT,
                'bash',
                relay.key,
                relay.knownHosts,
                String(relay.port),
                relay.user,
                host.target.address,
                relayCiphers(),
                ...frames.flatMap((f) => [f.hex, String(f.offset), String(f.size)]),
              ],
              { action: `relay ${frames.length} blobs to ${name}`, timeoutMs: TRANSFER_TIMEOUT_MS },
            );
            result.bytesSent += toSend.reduce((n, b) => n + b.d.size - b.offset, 0);
            progress.set(result.bytesSent, 'relay');
            return r.stdout;
          } finally {
            clearInterval(timer);
          }
        };

        if (toSend.length) {
          for (const { d, offset } of toSend) if (offset > 0) result.resumed.push({ digest: d.digest, from: offset });
          const out = source
            ? await withRelay(source, session, host, state.hostKeys, (relay) => sendRelayed(relay))
            : await sendFromStore();
          result.blobsSent = toSend.length;
          await judge(out);
        }

        const index = (images: readonly StoredImage[]) => importIndex(images, ociArchitecture());
        if (stageOnly) {
          // The import starts now, in the background on the host, while hosts fed from here still read the staged
          // blobs. The import phase waits for it and checks.
          if (missing.length) {
            await session.run(
              ['sh', '-c', INDEX_AND_BACKGROUND_IMPORT_SCRIPT, 'sh', STAGING_DIR, IMPORT_SCRIPT, index(missing)],
              { action: 'start the import into containerd (k8s.io)' },
            );
          }
          result.ms = Date.now() - t0;
          return result;
        }
        // What the host lists now: prepare's look (taken after the import state it printed), unless an import was
        // running then (wait for it, polling with a deadline, and look again) or runs here.
        let now = state;
        if (missing.length) {
          let background = state.importState;
          const deadline = Date.now() + IMPORT_TIMEOUT_MS;
          while (background === 'running' && Date.now() < deadline) {
            heartbeat({ host: name, waiting: 'import into containerd' });
            await new Promise((r) => setTimeout(r, 1000));
            background = await importState(session);
          }
          if (background !== state.importState) now = await hostState(session);
          const still = wanted.filter((i) => now.images.get(i.ref) !== i.manifest.digest);
          result.imported = missing.filter((i) => !still.includes(i)).map((i) => i.ref);
          if (still.length) {
            await session.run(['sh', '-c', INDEX_AND_IMPORT_SCRIPT, 'sh', STAGING_DIR, '', index(still)], {
              action: 'import images into containerd (k8s.io)',
              timeoutMs: IMPORT_TIMEOUT_MS,
            });
            result.imported.push(...still.map((i) => i.ref));
            now = await hostState(session);
          }
        }
        const after = now;
        const wrong = wanted.filter((i) => after.images.get(i.ref) !== i.manifest.digest);
        if (wrong.length) {
          throw new KubeadmHaError(
            wrong
              .map(
                (i) =>
                  `image ${i.ref}: containerd lists ${after.images.get(i.ref) ?? 'nothing'}, expected ${i.manifest.digest}`,
              )
              .join('; '),
            FailureType.CommandFailed,
            name,
          );
        }
        result.verified = wanted.map((i) => ({ ref: i.ref, digest: i.manifest.digest }));
        // Verified: the staged copies have done their job (relays, import).
        if (missing.length || state.staged.size)
          await session.run(['sh', '-c', CLEANUP_SCRIPT, 'sh', STAGING_DIR], { action: 'drop the staged blobs' });
        result.ms = Date.now() - t0;
        return result;
      });
    },
  };
}
