// `images push` activities. fillImageStore fills the worker's local store (src/images/store.ts) from the source,
// with registry credentials from the worker's own environment. deliverImages brings one host the images it needs:
// it skips what the host's containerd already has by digest, streams each missing blob either from the worker's
// store or, relayed, from another host that already has it (host to host over SSH with a throwaway key, so the
// operator's uplink carries each byte about once), resumes a blob that a dropped connection cut from the size that
// arrived, checks every blob's sha256, imports into containerd's k8s.io namespace and finally lists the host's images
// by digest: a mismatch names host and image.
import { randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
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
  COMPLETE_SCRIPT,
  IMPORT_SCRIPT,
  importIndex,
  parseState,
  RECEIVE_PATH,
  RECEIVE_SCRIPT,
  RELAY_DIR,
  RELAY_SEND_SCRIPT,
  REVOKE_SCRIPT,
  STAGING_DIR,
  STATE_SCRIPT,
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
  /** Only stage the blobs (the relay rounds); a later call without it imports and verifies. */
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

async function hostState(session: HostSession) {
  const r = await session.run(['sh', '-c', STATE_SCRIPT, 'sh', STAGING_DIR], {
    action: 'list containerd images and staged blobs',
    timeoutMs: 60_000,
    maxStdoutBytes: 8 << 20,
  });
  return parseState(r.stdout);
}

/** The staged blob is complete and right (moved to its final name), still short, or wrong (removed). */
async function complete(session: HostSession, d: Descriptor): Promise<string> {
  const r = await session.run(['sh', '-c', COMPLETE_SCRIPT, 'sh', STAGING_DIR, hexOf(d.digest), String(d.size)], {
    action: `check blob ${d.digest}`,
    timeoutMs: 10 * 60_000,
  });
  return r.stdout.trim();
}

/** A relay from `source` to `dest`: a throwaway key authorized on dest (forced command RECEIVE_PATH), its private
 * half and dest's host keys on source; `send` runs with them in place, and everything is removed afterwards. */
async function withRelay<T>(
  source: HostSession,
  dest: HostSession,
  destCtx: HostContext,
  send: (relay: { key: string; knownHosts: string; port: number; user: string }) => Promise<T>,
): Promise<T> {
  const nonce = randomBytes(8).toString('hex');
  const marker = `kubeadm2ha-relay-${nonce}`;
  const { privateKey, publicKey } = relayKeyPair(marker);
  const user = destCtx.target.user ?? destCtx.ssh.user;
  const port = destCtx.target.port ?? destCtx.ssh.port;
  const address = destCtx.target.address;
  const hostKeys = await dest.run({ script: 'cat /etc/ssh/ssh_host_*_key.pub' }, { action: 'read host keys' });
  const name = port === 22 ? address : `[${address}]:${port}`;
  const knownHosts = hostKeys.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 2)
    .map((f) => `${name} ${f[0]} ${f[1]}`)
    .join('\n');
  const dir = `${RELAY_DIR}/${nonce}`;
  await dest.run(['sh', '-c', AUTHORIZE_SCRIPT, 'sh', user, `restrict,command="${RECEIVE_PATH}" ${publicKey}`], {
    action: 'authorize relay key',
  });
  try {
    await source.putFile(`${dir}/key`, privateKey, { mode: 0o600 });
    await source.putFile(`${dir}/known_hosts`, `${knownHosts}\n`, { mode: 0o600 });
    return await send({ key: `${dir}/key`, knownHosts: `${dir}/known_hosts`, port, user });
  } finally {
    // Best effort: a cleanup failure must not hide what happened; the key is useless once revoked on dest.
    await dest
      .run(['sh', '-c', REVOKE_SCRIPT, 'sh', user, marker], { action: 'revoke relay key' })
      .catch(() => undefined);
    await source.run(['rm', '-rf', '--', dir], { action: 'remove relay key' }).catch(() => undefined);
  }
}

export function createImageActivities(deps: ActivityDeps) {
  return {
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
        await session.putFile(RECEIVE_PATH, RECEIVE_SCRIPT, { mode: 0o755 });
        const state = await hostState(session);
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

        const check = async (d: Descriptor): Promise<void> => {
          const verdict = await complete(session, d);
          if (verdict === 'ok') return;
          const image = imageOf(wanted, d.digest);
          if (verdict.startsWith('bad') && store) {
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
            verdict.startsWith('bad')
              ? `what arrived from ${result.from} does not match: ${verdict.split(' ')[1]} bytes hashing to sha256:${verdict.split(' ')[2]} (removed, to be sent again)`
              : `what arrived from ${result.from} is incomplete (${verdict})`,
          );
        };

        const sendFromStore = async (d: Descriptor, offset: number) => {
          const counter = new Transform({
            transform(chunk: Buffer, _enc, cb) {
              progress.add(chunk.length, d.digest);
              result.bytesSent += chunk.length;
              result.operatorBytes += chunk.length;
              cb(null, chunk);
            },
          });
          const input = store!.openBlob(d, offset);
          input.on('error', (e) => counter.destroy(e));
          await session.run([RECEIVE_PATH, hexOf(d.digest)], {
            stdin: input.pipe(counter),
            action: `receive blob ${d.digest}`,
            timeoutMs: TRANSFER_TIMEOUT_MS,
          });
        };

        const sendRelayed = async (
          d: Descriptor,
          offset: number,
          relay: { key: string; knownHosts: string; port: number; user: string },
        ) => {
          const hex = hexOf(d.digest);
          const before = progress.bytes;
          // The bytes flow host to host; we watch the receiving end's file grow for the heartbeat.
          const timer = setInterval(() => {
            void session
              .run(
                [
                  'sh',
                  '-c',
                  'stat -c %s "$1" 2>/dev/null || echo 0',
                  'sh',
                  `${STAGING_DIR}/blobs/sha256/${hex}.partial`,
                ],
                {
                  action: 'watch relay',
                  timeoutMs: 10_000,
                },
              )
              .then((r) => progress.set(before + Math.max(0, Number(r.stdout.trim()) - offset), d.digest))
              .catch(() => undefined);
          }, 2000);
          try {
            await source!.run(
              [
                'bash',
                '-c',
                RELAY_SEND_SCRIPT,
                'bash',
                d.digest,
                String(offset),
                relay.key,
                relay.knownHosts,
                String(relay.port),
                relay.user,
                host.target.address,
                hex,
              ],
              { action: `relay blob ${d.digest} to ${name}`, timeoutMs: TRANSFER_TIMEOUT_MS },
            );
          } finally {
            clearInterval(timer);
          }
          progress.set(before + d.size - offset, d.digest);
          result.bytesSent += d.size - offset;
        };

        const sendAll = async (send: (d: Descriptor, offset: number) => Promise<void>) => {
          for (const { d, offset } of toSend) {
            if (offset > 0) result.resumed.push({ digest: d.digest, from: offset });
            await send(d, offset);
            result.blobsSent++;
            await check(d);
          }
        };
        if (toSend.length) {
          if (source) await withRelay(source, session, host, (relay) => sendAll((d, o) => sendRelayed(d, o, relay)));
          else await sendAll(sendFromStore);
        }

        if (stageOnly) {
          result.ms = Date.now() - t0;
          return result;
        }
        if (missing.length) {
          await session.putFile(`${STAGING_DIR}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}', { mode: 0o600 });
          await session.putFile(`${STAGING_DIR}/index.json`, importIndex(missing, ociArchitecture()), { mode: 0o600 });
          await session.run(['sh', '-c', IMPORT_SCRIPT, 'sh', STAGING_DIR], {
            action: 'import images into containerd (k8s.io)',
            timeoutMs: 30 * 60_000,
          });
          result.imported = missing.map((i) => i.ref);
        }

        const after = await hostState(session);
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
        result.ms = Date.now() - t0;
        return result;
      });
    },
  };
}
