// Pushes an OCI image layout to a registry over the Distribution v2 HTTP API (what `docker push` and skopeo
// speak): for each blob HEAD, and upload only what is missing (POST an upload, PUT its Location with ?digest=,
// streaming the file); then PUT the manifest under the tag and check that the registry's digest is ours. No auth
// (the lab registry and an air-gapped user's mirror behind a firewall); plain http or https with the system CAs.
// Errors say which registry, which image and what the registry answered, and are classified: the registry being
// down, restarting or overloaded (refused, reset, 5xx, 429) is retryable, a request it rejects (4xx) is not.
import { createReadStream } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { FailureType, KubeadmHaError } from '../errors.js';
import { readImageLayout, type Descriptor } from './oci-layout.js';

/** Distribution's grammar: path components of lower-case alphanumerics joined by . _ __ or dashes. */
const NAME_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export class RegistryError extends KubeadmHaError {
  constructor(
    readonly registry: string,
    readonly image: string,
    message: string,
    type: FailureType,
    readonly status?: number,
  ) {
    super(`registry ${registry}, image ${image}: ${message}`, type);
  }
}

export interface ImageRef {
  /** Repository inside the registry, e.g. k8s/kube-apiserver. */
  name: string;
  tag: string;
}

/** 'k8s/kube-apiserver:v1.34.12' → { name, tag }; no registry host and no digest form (we push by tag). */
export function parseImageRef(ref: string): ImageRef {
  const i = ref.lastIndexOf(':');
  const name = i > ref.lastIndexOf('/') && i >= 0 ? ref.slice(0, i) : ref;
  const tag = i > ref.lastIndexOf('/') && i >= 0 ? ref.slice(i + 1) : '';
  if (!NAME_RE.test(name) || !TAG_RE.test(tag)) {
    throw new KubeadmHaError(
      `invalid image reference '${ref}': want <repository>:<tag> like k8s/kube-apiserver:v1.34.12`,
      FailureType.InvalidInput,
    );
  }
  return { name, tag };
}

export interface PushResult {
  ref: string;
  /** The manifest digest, as the registry confirmed it. */
  digest: string;
  uploaded: Descriptor[];
  /** Blobs the registry already had (HEAD answered 200). */
  skipped: Descriptor[];
  uploadedBytes: number;
  ms: number;
}

export interface PushOptions {
  /** Per request, default 120 s (a blob upload is one request; 100 MB on a slow link needs time). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** Pushes the one image of `layoutDir` to `registryBaseUrl` (http://10.200.5.1:5000) as `ref`. Idempotent. */
export async function pushImage(
  layoutDir: string,
  registryBaseUrl: string,
  ref: string,
  opts: PushOptions = {},
): Promise<PushResult> {
  const t0 = performance.now();
  const { name, tag } = parseImageRef(ref);
  const base = parseBaseUrl(registryBaseUrl);
  const ctx = new Ctx(base, ref, opts.timeoutMs ?? 120_000);
  const layout = await readImageLayout(layoutDir);
  const uploaded: Descriptor[] = [];
  const skipped: Descriptor[] = [];
  for (const blob of layout.blobs) {
    const head = await ctx.send('HEAD', `/v2/${name}/blobs/${blob.digest}`);
    if (head.status === 200) {
      skipped.push(blob);
      continue;
    }
    if (head.status !== 404) throw ctx.fail(`check blob ${blob.digest}`, head);
    const started = await ctx.send('POST', `/v2/${name}/blobs/uploads/`, { headers: { 'content-length': '0' } });
    const location = started.headers.location;
    if (started.status !== 202 || !location) throw ctx.fail('start blob upload', started);
    const url = new URL(location, base);
    url.searchParams.set('digest', blob.digest);
    opts.log?.(`push ${ref}: blob ${blob.digest.slice(7, 19)} ${blob.size} bytes`);
    const put = await ctx.send('PUT', url, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: () => createReadStream(layout.blobPath(blob.digest)),
    });
    if (put.status !== 201) throw ctx.fail(`upload blob ${blob.digest}`, put);
    const got = put.headers['docker-content-digest'];
    if (typeof got === 'string' && got !== blob.digest) {
      throw ctx.fail(`registry stored blob ${blob.digest} as ${got}`, put, FailureType.CommandFailed);
    }
    uploaded.push(blob);
  }
  const put = await ctx.send('PUT', `/v2/${name}/manifests/${tag}`, {
    headers: { 'content-type': layout.manifest.mediaType, 'content-length': String(layout.manifestBytes.length) },
    body: layout.manifestBytes,
  });
  if (put.status !== 201) throw ctx.fail('put manifest', put);
  const digest = put.headers['docker-content-digest'];
  if (digest !== layout.manifest.digest) {
    // Not retryable: the registry rewrote the manifest (an old registry converting formats); pulls by our digest
    // would fail.
    throw ctx.fail(
      `registry answered digest ${String(digest)} for manifest ${layout.manifest.digest}`,
      put,
      FailureType.HostNotSuitable,
    );
  }
  return {
    ref,
    digest,
    uploaded,
    skipped,
    uploadedBytes: uploaded.reduce((n, d) => n + d.size, 0),
    ms: Math.round(performance.now() - t0),
  };
}

/** The digest the registry serves for `ref` (HEAD manifest), or undefined when it has no such tag. */
export async function remoteManifestDigest(
  registryBaseUrl: string,
  ref: string,
  mediaTypes: string[] = ['application/vnd.oci.image.manifest.v1+json'],
): Promise<string | undefined> {
  const { name, tag } = parseImageRef(ref);
  const ctx = new Ctx(parseBaseUrl(registryBaseUrl), ref, 30_000);
  const res = await ctx.send('HEAD', `/v2/${name}/manifests/${tag}`, { headers: { accept: mediaTypes.join(', ') } });
  if (res.status === 404) return undefined;
  const digest = res.headers['docker-content-digest'];
  if (res.status !== 200 || typeof digest !== 'string') throw ctx.fail('check manifest', res);
  return digest;
}

function parseBaseUrl(s: string): URL {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new KubeadmHaError(`invalid registry URL '${s}': want http(s)://host:port`, FailureType.InvalidInput);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || (u.pathname !== '/' && u.pathname !== '')) {
    throw new KubeadmHaError(`invalid registry URL '${s}': want http(s)://host:port`, FailureType.InvalidInput);
  }
  return u;
}

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  /** The first KiB of the body, for error messages. */
  excerpt: string;
  method: string;
  path: string;
}

interface SendOptions {
  headers?: Record<string, string>;
  body?: Buffer | (() => Readable);
}

/** One push's requests: knows the registry and image, so every error names them. */
class Ctx {
  constructor(
    readonly base: URL,
    readonly ref: string,
    readonly timeoutMs: number,
  ) {}

  send(method: string, pathOrUrl: string | URL, o: SendOptions = {}): Promise<Response> {
    const url = typeof pathOrUrl === 'string' ? new URL(pathOrUrl, this.base) : pathOrUrl;
    if (url.host !== this.base.host) {
      // An upload Location on another host (a CDN-backed registry) would get our bytes; the registries we target
      // never do that, so refuse rather than send data somewhere unexpected.
      return Promise.reject(this.fail(`${method} ${url.pathname}: registry redirected to ${url.host}`));
    }
    const path = url.pathname + url.search;
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
        url,
        { method, headers: { 'user-agent': 'kubeadm2ha', ...o.headers }, timeout: this.timeoutMs },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          res.on('data', (c: Buffer) => {
            if (kept < 1024) {
              chunks.push(c);
              kept += c.length;
            }
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              excerpt: Buffer.concat(chunks).toString('utf8').slice(0, 1024),
              method,
              path,
            }),
          );
          res.on('error', (e) => reject(this.network(method, path, e)));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (e) => reject(this.network(method, path, e)));
      const body = o.body;
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        const stream = body();
        stream.on('error', (e) => req.destroy(e));
        stream.pipe(req);
      }
    });
  }

  /** Refused, reset, timed out, DNS: the registry is not (yet) there. Retryable. */
  network(method: string, path: string, e: Error & { code?: string }): RegistryError {
    return new RegistryError(
      this.base.origin,
      this.ref,
      `${method} ${path}: ${e.code ? `${e.code} ` : ''}${e.message}`,
      FailureType.HostUnreachable,
    );
  }

  /** An answer we did not want. 5xx and 429: retryable; other 4xx: the request is wrong, retrying cannot help. */
  fail(what: string, res?: Response, type?: FailureType): RegistryError {
    if (!res) return new RegistryError(this.base.origin, this.ref, what, type ?? FailureType.InvalidInput);
    const cls =
      type ??
      (res.status >= 500 || res.status === 429
        ? FailureType.CommandFailed
        : res.status === 401 || res.status === 403
          ? FailureType.AuthFailed
          : FailureType.InvalidInput);
    const excerpt = res.excerpt.replace(/\s+/g, ' ').trim().slice(0, 300);
    return new RegistryError(
      this.base.origin,
      this.ref,
      `${what}: ${res.method} ${res.path} answered HTTP ${res.status}${excerpt ? `: ${excerpt}` : ''}`,
      cls,
      res.status,
    );
  }
}
