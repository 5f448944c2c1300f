// Pulling images into the local store over the Distribution v2 API (what `docker pull` and skopeo speak): the
// manifest by tag, resolved through an index to this platform's manifest, then the config and layers, each blob only
// if the store lacks it. Every byte is verified against its digest on arrival (./store.ts).
//
// Authentication: anonymous, or credentials the worker takes from its own environment (never from workflow input,
// so they never reach history): HTTP basic, and the bearer-token exchange a registry asks for in WWW-Authenticate
// (registry.k8s.io, Docker Hub, Harbor…). Credentials go only to the registry's own host and its token realm, never
// along a redirect to blob storage.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { FailureType, KubeadmHaError } from '../errors.js';
import { MediaType, ociArchitecture, type Descriptor } from './oci-layout.js';
import { RegistryError } from './registry-client.js';
import { sha256Digest, type ImageStore, type StoredImage } from './store.js';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const ACCEPT = [MediaType.manifest, MediaType.index, DOCKER_MANIFEST, DOCKER_LIST].join(', ');
const MAX_MANIFEST_BYTES = 4 << 20;

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface PullOptions {
  /** Registries (host[:port]) spoken to over plain http: an air-gapped mirror without TLS. */
  plainHttp?: readonly string[];
  /** Credentials by registry host; the worker fills this from its environment. */
  credentials?: (registry: string) => RegistryCredentials | undefined;
  architecture?: string;
  timeoutMs?: number;
  /** Called with the bytes of each blob chunk as it arrives (progress). */
  onBytes?: (n: number) => void;
  /** Where to ask instead of the registry itself (http(s)://host[:port]): the inventory's mirror endpoint. */
  endpoint?: string;
  /** The inventory's `skipVerify` for this registry (containerd's skip_verify): its TLS certificate is not checked.
   * Only for the registry's own host; a token realm or a redirect elsewhere is still verified. */
  skipVerify?: boolean;
}

export interface ParsedRef {
  registry: string;
  /** Repository path inside the registry, e.g. k8s/kube-apiserver or library/nginx. */
  repository: string;
  /** A tag or a sha256 digest. */
  reference: string;
}

/** 'registry.k8s.io/pause:3.10' → { registry.k8s.io, pause, 3.10 }; Docker Hub's short names expanded. */
export function parseFullRef(ref: string): ParsedRef {
  let rest = ref;
  let reference = 'latest';
  const at = rest.indexOf('@');
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      reference = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  let registry = hasRegistry ? first : 'docker.io';
  let repository = hasRegistry ? rest.slice(slash + 1) : rest;
  if (registry === 'docker.io') {
    registry = 'registry-1.docker.io';
    if (!repository.includes('/')) repository = `library/${repository}`;
  }
  if (!/^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/.test(repository)) {
    throw new KubeadmHaError(`image ${ref}: invalid repository '${repository}'`, FailureType.InvalidInput);
  }
  if (!/^(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|sha256:[0-9a-f]{64})$/.test(reference)) {
    throw new KubeadmHaError(`image ${ref}: invalid tag or digest '${reference}'`, FailureType.InvalidInput);
  }
  return { registry, repository, reference };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  res: IncomingMessage;
}

/** One image pull's conversation with one registry: knows where to send credentials and keeps the token. */
class Puller {
  private token: string | undefined;
  readonly base: URL;

  constructor(
    readonly ref: string,
    readonly p: ParsedRef,
    readonly o: PullOptions,
  ) {
    this.base = new URL(o.endpoint ?? `${o.plainHttp?.includes(p.registry) ? 'http' : 'https'}://${p.registry}`);
  }

  fail(what: string, status?: number, type?: FailureType): RegistryError {
    const cls =
      type ??
      (status === undefined || status >= 500 || status === 429
        ? FailureType.CommandFailed
        : status === 401 || status === 403
          ? FailureType.AuthFailed
          : FailureType.InvalidInput);
    return new RegistryError(this.base.origin, this.ref, what, cls, status);
  }

  private authorization(url: URL): string | undefined {
    if (url.host !== this.base.host) return undefined;
    if (this.token) return `Bearer ${this.token}`;
    const c = this.o.credentials?.(this.p.registry);
    return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
  }

  private send(url: URL, headers: Record<string, string>, auth: string | undefined): Promise<Answer> {
    const timeout = this.o.timeoutMs ?? 120_000;
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
        url,
        {
          method: 'GET',
          headers: { 'user-agent': 'kubeadm2ha', ...headers, ...(auth && { authorization: auth }) },
          timeout,
          ...(this.o.skipVerify && url.host === this.base.host && { rejectUnauthorized: false }),
        },
        (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, res }),
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)));
      req.on('error', (e: Error & { code?: string }) =>
        reject(
          this.fail(
            `GET ${url.pathname}: ${e.code ? `${e.code} ` : ''}${e.message}`,
            undefined,
            FailureType.HostUnreachable,
          ),
        ),
      );
      req.end();
    });
  }

  /** GET following redirects (blob storage); one bearer-token exchange when the registry asks for it. */
  async get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
    let url = new URL(path, this.base);
    for (let hop = 0; hop < 6; hop++) {
      let a = await this.send(url, headers, this.authorization(url));
      if (a.status === 401 && url.host === this.base.host && !this.token) {
        a.res.resume();
        await this.exchangeToken(String(a.headers['www-authenticate'] ?? ''));
        a = await this.send(url, headers, this.authorization(url));
      }
      if ([301, 302, 303, 307, 308].includes(a.status) && a.headers.location) {
        a.res.resume();
        url = new URL(a.headers.location, url);
        continue;
      }
      return a;
    }
    throw this.fail(`GET ${path}: too many redirects`);
  }

  private async exchangeToken(challenge: string): Promise<void> {
    const m = /^Bearer\s+(.*)$/i.exec(challenge);
    if (!m) throw this.fail(`registry refused access (401) and offers no token (${challenge || 'no challenge'})`, 401);
    const params = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (!params.realm) throw this.fail('token challenge without a realm', 401);
    const realm = new URL(params.realm);
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', params.scope ?? `repository:${this.p.repository}:pull`);
    const c = this.o.credentials?.(this.p.registry);
    const auth = c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
    const a = await this.send(realm, {}, auth);
    const body = await readLimited(a.res, 1 << 20);
    if (a.status !== 200) throw this.fail(`token from ${realm.host}: HTTP ${a.status}`, a.status);
    const json = JSON.parse(body.toString('utf8')) as { token?: string; access_token?: string };
    this.token = json.token ?? json.access_token;
    if (!this.token) throw this.fail(`token from ${realm.host}: answer without a token`, 401);
  }
}

function readLimited(res: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) res.destroy(new Error(`answer larger than ${max} bytes`));
      else chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

interface ManifestJson {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: (Descriptor & { platform?: { os?: string; architecture?: string } })[];
}

export interface PullResult {
  image: StoredImage;
  /** Bytes fetched from the registry (manifests and new blobs). */
  fetchedBytes: number;
  /** Blobs the store already had (another image shares them, or an earlier pull). */
  reusedBlobs: number;
}

/** Whether the registry has `ref`'s manifest (GET, so a registry that refuses HEAD answers too); a 404 is false,
 * anything else but 200 throws a RegistryError naming the registry and the image. */
export async function manifestPresent(ref: string, o: PullOptions = {}): Promise<boolean> {
  const p = parseFullRef(ref);
  const puller = new Puller(ref, p, o);
  const a = await puller.get(`/v2/${p.repository}/manifests/${p.reference}`, { accept: ACCEPT });
  a.res.resume();
  if (a.status === 404) return false;
  if (a.status !== 200) throw puller.fail(`manifest ${p.reference}: HTTP ${a.status}`, a.status);
  return true;
}

/** Pull `ref` into `store` (only what it lacks) and record it. */
export async function pullImage(store: ImageStore, ref: string, o: PullOptions = {}): Promise<PullResult> {
  const p = parseFullRef(ref);
  const puller = new Puller(ref, p, o);
  const arch = o.architecture ?? ociArchitecture();
  let fetched = 0;
  const getManifest = async (reference: string): Promise<{ desc: Descriptor; json: ManifestJson; bytes: Buffer }> => {
    const a = await puller.get(`/v2/${p.repository}/manifests/${reference}`, { accept: ACCEPT });
    const bytes = await readLimited(a.res, MAX_MANIFEST_BYTES);
    if (a.status !== 200) {
      throw puller.fail(`manifest ${reference}: HTTP ${a.status}: ${bytes.toString('utf8').slice(0, 200)}`, a.status);
    }
    fetched += bytes.length;
    const digest = sha256Digest(bytes);
    const claimed = a.headers['docker-content-digest'];
    if (
      (reference.startsWith('sha256:') && digest !== reference) ||
      (typeof claimed === 'string' && claimed !== digest)
    ) {
      throw puller.fail(`manifest ${reference}: content hashes to ${digest}, not ${String(claimed ?? reference)}`);
    }
    const json = JSON.parse(bytes.toString('utf8')) as ManifestJson;
    const mediaType = json.mediaType ?? String(a.headers['content-type'] ?? '').split(';')[0]!;
    return { desc: { mediaType, digest, size: bytes.length }, json, bytes };
  };
  let m = await getManifest(p.reference);
  if (m.json.manifests) {
    const pick = m.json.manifests.find((d) => d.platform?.os === 'linux' && d.platform.architecture === arch);
    if (!pick) throw puller.fail(`no linux/${arch} manifest in the index`, undefined, FailureType.InvalidInput);
    m = await getManifest(pick.digest);
  }
  if (!m.json.config || !m.json.layers) throw puller.fail(`manifest ${m.desc.digest} has no config or layers`);
  await store.putBytes(ref, m.desc, m.bytes);
  const blobs = [m.json.config, ...m.json.layers].map((d) => ({
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
  }));
  let reused = 0;
  for (const b of blobs) {
    const n = await store.putBlob(ref, b, async () => {
      const a = await puller.get(`/v2/${p.repository}/blobs/${b.digest}`);
      if (a.status !== 200) {
        a.res.resume();
        throw puller.fail(`blob ${b.digest}: HTTP ${a.status}`, a.status);
      }
      if (o.onBytes) a.res.on('data', (c: Buffer) => o.onBytes!(c.length));
      return a.res;
    });
    if (n === 0) reused++;
    fetched += n;
  }
  const image: StoredImage = { ref, manifest: m.desc, blobs };
  await store.setImage(image);
  return { image, fetchedBytes: fetched, reusedBlobs: reused };
}
