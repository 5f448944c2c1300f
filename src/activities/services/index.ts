// The service-manager abstraction: systemd where it runs (PID 1 is systemd: /run/systemd/system exists, the test
// sd_booted() does), else the k2h-supervise fallback. Same interface for both, so activities never ask which.
import type { HostSession } from '../../ssh/index.js';
import { SupervisorServiceManager } from './supervisor.js';
import { SystemdServiceManager } from './systemd.js';
import type { ServiceManager } from './types.js';

export * from './types.js';
export { SystemdServiceManager, renderUnit, unitPath, systemdWord } from './systemd.js';
export { SupervisorServiceManager, renderEnvFile, envFilePath, pidFilePath, logFilePath } from './supervisor.js';

export async function detectServiceManager(session: HostSession): Promise<ServiceManager> {
  const r = await session.run(['test', '-d', '/run/systemd/system'], {
    allowNonZero: true,
    action: 'detect service manager',
    timeoutMs: 30_000,
  });
  return r.code === 0 ? new SystemdServiceManager(session) : new SupervisorServiceManager(session);
}
