// A one-layer OCI image made on a lab host under /tmp (an uncompressed tar layer holding one file, its config, its
// manifest), for tests that feed blobs to containerd through the images push receiver. Shared by the containerd 1.6
// and containerd 2 receiver tests.
import { writeFileCommand } from '../../lab/k8s/node.js';
import { importIndex, INDEX_AND_IMPORT_SCRIPT, STAGING_DIR } from '../../src/activities/images-host.js';
import { ociArchitecture } from '../../src/images/oci-layout.js';
import { shellCommand } from '../../src/ssh/quote.js';

export interface BlobOnHost {
  hex: string;
  size: number;
}

export interface OneLayerImage {
  layer: BlobOnHost;
  config: BlobOnHost;
  manifest: BlobOnHost;
  /** Each blob with its file's name under /tmp: layer, config, manifest. */
  parts: readonly (readonly [BlobOnHost, string])[];
}

/** Makes `/tmp/<prefix>layer.tar` (one file saying `text`), `<prefix>config.json` and `<prefix>manifest.json`. */
export async function oneLayerImage(
  sh: (cmd: string) => Promise<string>,
  prefix: string,
  text: string,
): Promise<OneLayerImage> {
  const dir = `/tmp/${prefix}layer`;
  await sh(`mkdir -p ${dir} && echo '${text}' > ${dir}/hello && tar -C ${dir} -cf ${dir}.tar hello`);
  const digestOf = async (name: string): Promise<BlobOnHost> => ({
    hex: (await sh(`sha256sum < /tmp/${name} | cut -d' ' -f1`)).trim(),
    size: Number((await sh(`stat -c %s /tmp/${name}`)).trim()),
  });
  const json = (name: string, value: unknown) =>
    sh(`${writeFileCommand(`/tmp/${name}`, JSON.stringify(value))} && true`);
  const files = { layer: `${prefix}layer.tar`, config: `${prefix}config.json`, manifest: `${prefix}manifest.json` };
  const layer = await digestOf(files.layer);
  await json(files.config, {
    architecture: ociArchitecture(),
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [`sha256:${layer.hex}`] },
  });
  const config = await digestOf(files.config);
  await json(files.manifest, {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: `sha256:${config.hex}`,
      size: config.size,
    },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layer.hex}`, size: layer.size }],
  });
  const manifest = await digestOf(files.manifest);
  return {
    layer,
    config,
    manifest,
    parts: [
      [layer, files.layer],
      [config, files.config],
      [manifest, files.manifest],
    ],
  };
}

/** Indexes `image` under `ref` and imports it from the receiver's staging dir, as a host's import step does. */
export async function importOneLayerImage(
  sh: (cmd: string) => Promise<string>,
  image: OneLayerImage,
  ref: string,
): Promise<void> {
  const { manifest } = image;
  const index = importIndex(
    [
      {
        ref,
        manifest: {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: `sha256:${manifest.hex}`,
          size: manifest.size,
        },
      },
    ],
    ociArchitecture(),
  );
  await sh(shellCommand(['sh', '-c', INDEX_AND_IMPORT_SCRIPT, 'sh', STAGING_DIR, '', index]));
}
