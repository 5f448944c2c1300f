// Fill the local store with a list of images from one source: a registry (each reference's own, over https, or
// plain http for the hosts named) or an OCI layout directory. Only what the store lacks is fetched; a blob shared
// by several images arrives once. The store then holds every image of the list, or this throws naming the image.
import { importFromOciLayout } from './oci-source.js';
import { pullImage, type PullOptions, type RegistryCredentials } from './registry-pull.js';
import type { ImageStore, StoredImage } from './store.js';

export type ImageSource =
  /** Each image from the registry its reference names. */
  | { kind: 'registry'; plainHttp?: string[] }
  /** Every image from one OCI layout directory on the worker's machine. */
  | { kind: 'oci-layout'; dir: string };

export interface FillResult {
  images: StoredImage[];
  /** Bytes that came from the source in this fill (0 when the store had everything). */
  fetchedBytes: number;
  /** Sum of the distinct blobs of the list (manifests included): what the set weighs once. */
  uniqueBytes: number;
  /** References the store already held whole. */
  alreadyStored: string[];
}

/** Registry credentials from the worker's environment: KUBEADM2HA_REGISTRY_USERNAME / _PASSWORD (every registry). */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): PullOptions['credentials'] {
  const username = env.KUBEADM2HA_REGISTRY_USERNAME;
  const password = env.KUBEADM2HA_REGISTRY_PASSWORD;
  if (!username || password === undefined) return undefined;
  const c: RegistryCredentials = { username, password };
  return () => c;
}

export function uniqueSize(images: readonly StoredImage[]): number {
  const seen = new Map<string, number>();
  for (const i of images) for (const d of [i.manifest, ...i.blobs]) seen.set(d.digest, d.size);
  return [...seen.values()].reduce((a, b) => a + b, 0);
}

export async function fillStore(
  store: ImageStore,
  refs: readonly string[],
  source: ImageSource,
  o: Omit<PullOptions, 'plainHttp'> = {},
): Promise<FillResult> {
  const images: StoredImage[] = [];
  const alreadyStored: string[] = [];
  let fetched = 0;
  for (const ref of refs) {
    const have = await store.image(ref);
    if (have) {
      images.push(have);
      alreadyStored.push(ref);
      continue;
    }
    if (source.kind === 'registry') {
      const r = await pullImage(store, ref, { ...o, ...(source.plainHttp && { plainHttp: source.plainHttp }) });
      images.push(r.image);
      fetched += r.fetchedBytes;
    } else {
      const r = await importFromOciLayout(store, source.dir, ref, o.architecture);
      images.push(r.image);
      fetched += r.copiedBytes;
    }
  }
  return { images, fetchedBytes: fetched, uniqueBytes: uniqueSize(images), alreadyStored };
}
