// Lab services (registry, apt mirror) are real processes the lab starts in the root namespace: readiness means
// *this* process listens (not a leftover on the same address), and teardown finds and stops them from the records.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listensOn, startLabService, stopLabServicesSync } from '../../lab/lab-service.js';
import { isAlive, procId } from '../../lab/proc.js';
import { freePort } from '../../src/temporal/process-util.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k2h-svc-'));
});
afterAll(async () => {
  stopLabServicesSync(dir);
  await rm(dir, { recursive: true, force: true });
});

const httpServer = (port: number): string[] => [
  '/usr/bin/python3',
  '-m',
  'http.server',
  '--bind',
  '127.0.0.1',
  String(port),
];

describe('lab services', () => {
  it('is ready when its own socket listens; a second one on a taken address fails instead of looking ready', async () => {
    const port = await freePort();
    const first = await startLabService({
      labDir: dir,
      name: 'web-a',
      argv: httpServer(port),
      ready: { host: '127.0.0.1', port },
    });
    expect(listensOn(first.pid, '127.0.0.1', port)).toBe(true);
    expect(listensOn(process.pid, '127.0.0.1', port)).toBe(false);
    await expect(
      startLabService({
        labDir: dir,
        name: 'web-b',
        argv: httpServer(port),
        ready: { host: '127.0.0.1', port },
        timeoutMs: 10_000,
      }),
    ).rejects.toThrow(/lab service web-b .*(exited|not accepting).*Address already in use/s);
    await first.stop();
    expect(isAlive(procId(first.pid))).toBe(false);
  });

  it('teardown stops every recorded service, also ones started by another process (detached)', async () => {
    const port = await freePort();
    const svc = await startLabService({
      labDir: dir,
      name: 'web-c',
      argv: httpServer(port),
      ready: { host: '127.0.0.1', port },
      detached: true,
    });
    const p = procId(svc.pid)!;
    expect(isAlive(p)).toBe(true);
    stopLabServicesSync(dir);
    expect(isAlive(p)).toBe(false);
  });
});
