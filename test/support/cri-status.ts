// The CRI as `crictl` would call it, for hosts without crictl: RuntimeService/Status (verbose; `crictl info`),
// ImageService/PullImage and ImageStatus (`crictl pull`, `crictl inspecti`). A node script run inside a lab host
// (which sees the machine's node and this checkout's node_modules) prints the answer as JSON. The few messages are
// encoded by hand (protobuf wire format), so no .proto file is needed.
import { createRequire } from 'node:module';
import { shellCommand } from '../../src/ssh/quote.js';

export interface CriStatus {
  conditions: { type: string; status: boolean; reason: string }[];
  info: Record<string, unknown>;
}

const SCRIPT = `'use strict';
const grpc = require(process.argv[2]); // node -e: argv is [node, socket, grpc-js path, mode, image]

/** Protobuf fields of \`buf\`: [{ field, value }] with length-delimited values as Buffers, varints as numbers. */
function fields(buf) {
  const out = [];
  let i = 0;
  const varint = () => {
    let v = 0, shift = 0, b;
    do { b = buf[i++]; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
    return v;
  };
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8), wire = key & 7;
    if (wire === 0) out.push({ field, value: varint() });
    else if (wire === 2) { const n = varint(); out.push({ field, value: buf.subarray(i, i + n) }); i += n; }
    else throw new Error(\`unexpected wire type \${wire}\`);
  }
  return out;
}

const [, socket, , mode, ref] = process.argv;
const client = new grpc.Client(\`unix://\${socket}\`, grpc.credentials.createInsecure());
const varintBytes = (n) => { const out = []; while (n > 127) { out.push((n & 0x7f) | 0x80); n >>>= 7; } out.push(n); return out; };
/** A length-delimited field 1 holding \`buf\`. */
const field1 = (buf) => Buffer.concat([Buffer.from([0x0a, ...varintBytes(buf.length)]), buf]);
const str = (fs, n) => fs.find((x) => x.field === n)?.value?.toString() ?? '';
const call = (method, request, decode) =>
  client.makeUnaryRequest(method, (b) => b, (b) => b, request, { deadline: Date.now() + 60_000 }, (err, res) => {
    if (err) { process.stderr.write(\`\${method}: \${err.message}\\n\`); process.exit(1); }
    process.stdout.write(JSON.stringify(decode(res)));
    client.close();
  });
// ImageSpec{image: ref} inside a request's field 1 (PullImageRequest.image, ImageStatusRequest.image).
const imageRequest = () => field1(field1(Buffer.from(ref)));
if (mode === 'pull')
  call('/runtime.v1.ImageService/PullImage', imageRequest(), (res) => ({ imageRef: str(fields(res), 1) }));
else if (mode === 'image')
  // ImageStatusResponse{image: Image{id 1, repo_tags 2, ..., pinned 8}}; no image: {}.
  call('/runtime.v1.ImageService/ImageStatus', imageRequest(), (res) => {
    const img = fields(res).find((f) => f.field === 1);
    if (!img) return {};
    const fs = fields(img.value);
    return {
      id: str(fs, 1),
      repoTags: fs.filter((x) => x.field === 2).map((x) => x.value.toString()),
      pinned: fs.find((x) => x.field === 8)?.value === 1,
    };
  });
else
  call('/runtime.v1.RuntimeService/Status', Buffer.from([0x08, 0x01]) /* StatusRequest{verbose: true} */, (res) => {
    const result = { conditions: [], info: {} };
    for (const f of fields(res)) {
      if (f.field === 1) // RuntimeStatus{conditions: [RuntimeCondition{type, status, reason, message}]}
        for (const c of fields(f.value).filter((x) => x.field === 1)) {
          const cf = fields(c.value);
          result.conditions.push({ type: str(cf, 1), status: cf.find((x) => x.field === 2)?.value === 1, reason: str(cf, 3) });
        }
      if (f.field === 2) { // map<string, string> info
        const e = fields(f.value);
        const key = str(e, 1), value = str(e, 2);
        try { result.info[key] = JSON.parse(value); } catch { result.info[key] = value; }
      }
    }
    return result;
  });
`;

const grpcJs = createRequire(import.meta.url).resolve('@grpc/grpc-js');

/** The host command printing the CRI status of the containerd at `socket`. */
export const criStatusCommand = (socket = '/run/containerd/containerd.sock'): string =>
  shellCommand(['node', '-e', SCRIPT, socket, grpcJs, 'status']);

/** The CRI's image service, as the kubelet calls it: `pull` prints {imageRef}; `image` (ImageStatus) prints
 * {id, repoTags, pinned} ({} when the CRI has no such image). */
export interface CriImage {
  id?: string;
  repoTags?: string[];
  /** The kubelet's image GC never removes a pinned image: containerd pins its sandbox image. */
  pinned?: boolean;
}
export const criImageCommand = (mode: 'pull' | 'image', image: string, socket = '/run/containerd/containerd.sock') =>
  shellCommand(['node', '-e', SCRIPT, socket, grpcJs, mode, image]);
