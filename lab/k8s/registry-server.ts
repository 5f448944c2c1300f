// The lab's image registry: Debian's docker-registry (the CNCF Distribution registry, the same code as the
// `registry:2` image) in the root network namespace, bound to the lab bridge address so only the lab's hosts reach
// it. Plain http, no auth: exactly the air-gapped mirror a user points kubeadm's imageRepository at. It runs as a
// lab service (../lab-service.ts), so it dies with the lab.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startLabService } from '../lab-service.js';

export const DOCKER_REGISTRY = '/usr/bin/docker-registry';

export interface LabRegistryOptions {
  labDir: string;
  /** Address to bind: the lab's bridgeAddress (10.200.<id>.1). */
  address: string;
  port?: number;
  detached?: boolean;
  /** Blob store; default <labDir>/registry/data (gone with the lab). A shared directory keeps pushed blobs
   * across labs, so the next lab's pushes only HEAD. */
  storageDir?: string;
  timeoutMs?: number;
  /** Serve https with this certificate and key (PEM file paths) instead of plain http: a registry with its own,
   * e.g. self-signed, certificate (an inventory's skipVerify registry). */
  tls?: { certificate: string; key: string };
}

export interface LabRegistry {
  /** http://address:port (https:// with tls) */
  url: string;
  /** address:port, the form image references and containerd's hosts.toml use. */
  host: string;
  logFile: string;
  stop(): Promise<void>;
}

export async function startLabRegistry(o: LabRegistryOptions): Promise<LabRegistry> {
  const port = o.port ?? 5000;
  const dir = join(o.labDir, 'registry');
  const storage = o.storageDir ?? join(dir, 'data');
  await mkdir(storage, { recursive: true });
  const config = {
    version: 0.1,
    log: { level: 'info', formatter: 'text', fields: { service: 'registry' } },
    storage: {
      filesystem: { rootdirectory: storage },
      // Blob descriptors cached in memory: HEADs of 100 MB layers answer without a stat storm.
      cache: { blobdescriptor: 'inmemory' },
      delete: { enabled: true },
    },
    http: {
      addr: `${o.address}:${port}`,
      headers: { 'X-Content-Type-Options': ['nosniff'] },
      ...(o.tls && { tls: { certificate: o.tls.certificate, key: o.tls.key } }),
    },
  };
  const configFile = join(dir, 'config.yml');
  await writeFile(configFile, stringify(config));
  // OTEL_TRACES_EXPORTER=none: newer Distribution builds try to export traces to localhost:4318 by default.
  const svc = await startLabService({
    labDir: o.labDir,
    name: 'registry',
    argv: [DOCKER_REGISTRY, 'serve', configFile],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', OTEL_TRACES_EXPORTER: 'none' },
    ready: { host: o.address, port },
    detached: o.detached,
    timeoutMs: o.timeoutMs,
  });
  const host = `${o.address}:${port}`;
  return { url: `${o.tls ? 'https' : 'http'}://${host}`, host, logFile: svc.logFile, stop: () => svc.stop() };
}
