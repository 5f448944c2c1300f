// Filling the store from an OCI image layout directory (what `skopeo copy docker://X oci:DIR:X` writes, or an
// archive an air-gapped site carries in): index.json names each image by its annotation, the blobs are files. Each
// blob is copied through the store's verifying writer, so a damaged archive is caught here, naming image and blob.
import { readFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { FailureType, KubeadmHaError } from '../errors.js';
import { MediaType, ociArchitecture, type Descriptor } from './oci-layout.js';
import { hexOf, type ImageStore, type StoredImage } from './store.js';

const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

interface IndexEntry extends Descriptor {
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string };
}

export interface LayoutImportResult {
  image: StoredImage;
  copiedBytes: number;
  reusedBlobs: number;
}

export async function importFromOciLayout(
  store: ImageStore,
  dir: string,
  ref: string,
  architecture = ociArchitecture(),
): Promise<LayoutImportResult> {
  const blobPath = (d: string) => join(dir, 'blobs', 'sha256', hexOf(d));
  const fail = (what: string) => new KubeadmHaError(`${dir}: image ${ref}: ${what}`, FailureType.InvalidInput);
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests?: IndexEntry[] };
  const named = (index.manifests ?? []).filter(
    (e) => e.annotations?.[REF_NAME] === ref || e.annotations?.[CONTAINERD_NAME] === ref,
  );
  let entry = named.find((e) => !e.platform || (e.platform.os === 'linux' && e.platform.architecture === architecture));
  if (!entry) throw fail(`not in the layout (index.json names images by ${REF_NAME} or ${CONTAINERD_NAME})`);
  let copied = 0;
  let reused = 0;
  const take = async (d: Descriptor): Promise<Buffer> => {
    const n = await store.putBlob(ref, d, () => createReadStream(blobPath(d.digest)));
    if (n === 0) reused++;
    copied += n;
    return store.readBlob(d);
  };
  let manifest = JSON.parse((await take(entry)).toString('utf8')) as {
    manifests?: IndexEntry[];
    config?: Descriptor;
    layers?: Descriptor[];
  };
  if (manifest.manifests) {
    entry = manifest.manifests.find((e) => e.platform?.os === 'linux' && e.platform.architecture === architecture);
    if (!entry) throw fail(`no linux/${architecture} manifest in its index`);
    manifest = JSON.parse((await take(entry)).toString('utf8')) as typeof manifest;
  }
  if (!manifest.config || !manifest.layers) throw fail(`manifest ${entry.digest} has no config or layers`);
  const blobs = [manifest.config, ...manifest.layers].map((d) => ({
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
  }));
  for (const b of blobs) {
    const n = await store.putBlob(ref, b, () => createReadStream(blobPath(b.digest)));
    if (n === 0) reused++;
    copied += n;
  }
  const image: StoredImage = {
    ref,
    manifest: { mediaType: entry.mediaType || MediaType.manifest, digest: entry.digest, size: entry.size },
    blobs,
  };
  await store.setImage(image);
  return { image, copiedBytes: copied, reusedBlobs: reused };
}
