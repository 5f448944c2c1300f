// The CRI's RuntimeService/Status (verbose), what `crictl info` prints, for hosts without crictl: a node script run
// inside a lab host (which sees the machine's node and this checkout's node_modules). It prints
// {"conditions": [{type, status, reason}], "info": {key: parsed JSON}}. The messages are encoded by hand (a bool
// request; a response of one message and one string map), so no .proto file is needed.
import { createRequire } from 'node:module';
import { shellCommand } from '../../src/ssh/quote.js';

export interface CriStatus {
  conditions: { type: string; status: boolean; reason: string }[];
  info: Record<string, unknown>;
}

const SCRIPT = `'use strict';
const grpc = require(process.argv[2]); // node -e: argv is [node, socket, grpc-js path]

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

const socket = process.argv[1];
const client = new grpc.Client(\`unix://\${socket}\`, grpc.credentials.createInsecure());
client.makeUnaryRequest(
  '/runtime.v1.RuntimeService/Status',
  (b) => b,
  (b) => b,
  Buffer.from([0x08, 0x01]), // StatusRequest{verbose: true}
  { deadline: Date.now() + 10_000 },
  (err, res) => {
    if (err) { process.stderr.write(\`\${err.message}\\n\`); process.exit(1); }
    const result = { conditions: [], info: {} };
    for (const f of fields(res)) {
      if (f.field === 1) // RuntimeStatus{conditions: [RuntimeCondition{type, status, reason, message}]}
        for (const c of fields(f.value).filter((x) => x.field === 1)) {
          const cf = fields(c.value);
          const str = (n) => cf.find((x) => x.field === n)?.value?.toString() ?? '';
          result.conditions.push({ type: str(1), status: cf.find((x) => x.field === 2)?.value === 1, reason: str(3) });
        }
      if (f.field === 2) { // map<string, string> info
        const e = fields(f.value);
        const key = e.find((x) => x.field === 1)?.value?.toString() ?? '';
        const value = e.find((x) => x.field === 2)?.value?.toString() ?? '';
        try { result.info[key] = JSON.parse(value); } catch { result.info[key] = value; }
      }
    }
    process.stdout.write(JSON.stringify(result));
    client.close();
  },
);
`;

const grpcJs = createRequire(import.meta.url).resolve('@grpc/grpc-js');

/** The host command printing the CRI status of the containerd at `socket`. */
export const criStatusCommand = (socket = '/run/containerd/containerd.sock'): string =>
  shellCommand(['node', '-e', SCRIPT, socket, grpcJs]);
