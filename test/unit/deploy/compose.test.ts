// docker-compose.yml is the production recipe (Temporal on PostgreSQL, its Web UI, our worker built from the
// Dockerfile in this repo, the codec server). Docker cannot run here, so the file is checked by Debian's compose
// client (`docker-compose config`, package docker-compose; no daemon needed), which validates it against the
// compose schema and resolves it; the topology itself is tested natively in test/e2e/postgres-topology.test.ts.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LATENCY_DYNAMIC_CONFIG } from '../../../src/temporal/server-tuning.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..', '..');

interface Service {
  image?: string;
  build?: { context: string } | string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  network_mode?: string;
}

describe('docker-compose.yml', () => {
  it('is a valid compose file with Temporal on PostgreSQL, the UI, our worker from ./Dockerfile and the codec', async () => {
    const { stdout } = await run('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], {
      env: { ...process.env, HOME: '/home/operator' },
    });
    const services = (parse(stdout) as { services: Record<string, Service> }).services;
    expect(Object.keys(services).sort()).toEqual(
      [
        'kubeadm2ha-codec',
        'kubeadm2ha-worker',
        'postgresql',
        'temporal',
        'temporal-admin-tools',
        'temporal-create-namespace',
        'temporal-ui',
      ].sort(),
    );
    expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    const worker = services['kubeadm2ha-worker']!;
    expect(worker.build).toMatchObject({ context: root });
    expect(existsSync(join(root, 'Dockerfile'))).toBe(true);
    expect(worker.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233' });
    expect(worker.depends_on).toMatchObject({
      'temporal-create-namespace': { condition: 'service_completed_successfully' },
    });
    // The UI decodes through our codec server, which listens on the operator machine's loopback only.
    expect(services['temporal-ui']!.environment!.TEMPORAL_CODEC_ENDPOINT).toBe('http://127.0.0.1:8081');
    expect(services['kubeadm2ha-codec']).toMatchObject({
      network_mode: 'host',
      command: ['codec', 'serve', '--port', '8081', '--ui-origin', 'http://127.0.0.1:8080'],
    });
  });

  it('builds the worker image from what the CLI needs and runs `kubeadm2ha worker`', () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "\/app\/bin\/kubeadm2ha\.js"\]/);
    expect(dockerfile).toMatch(/CMD \["worker"\]/);
    // Every path the Dockerfile copies exists (a moved file breaks `docker compose build`, not this repo's tests).
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm))
      for (const p of m[1]!.split(/\s+/)) expect(existsSync(join(root, p)), p).toBe(true);
  });

  it("gives its Temporal server the dynamic config every server we start has (the transfer queue's poll rate, eager activities)", () => {
    const config = parse(readFileSync(join(root, 'deploy', 'dynamicconfig', 'kubeadm2ha.yaml'), 'utf8')) as Record<
      string,
      { value: unknown }[]
    >;
    for (const [key, value] of LATENCY_DYNAMIC_CONFIG) expect(config[key], key).toEqual([{ value, constraints: {} }]);
  });
});
