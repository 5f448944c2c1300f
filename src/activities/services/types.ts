// What a long-running daemon we manage looks like to the rest of kubeadm2ha, whichever init system runs it.
import { InvalidInputError } from '../../errors.js';

export interface ServiceSpec {
  /** Unit name without suffix: lower-case letters, digits and dashes. */
  name: string;
  description: string;
  /** argv of the daemon, argv[0] an absolute path. Runs in the foreground; the manager backgrounds it. */
  command: string[];
  /** Extra environment. Not for secrets: unit files are world-readable. */
  env?: Record<string, string>;
  /** The daemon reports readiness with sd_notify (etcd does); systemd then waits for it. */
  notify?: boolean;
  documentation?: string;
}

export type ServiceManagerKind = 'systemd' | 'supervisor';

export interface ServiceManager {
  readonly kind: ServiceManagerKind;
  /** Write the service definition and register it; `changed` when the definition differs from before. */
  install(spec: ServiceSpec): Promise<{ changed: boolean }>;
  /** With `clear`: returns once the daemon runs, then removes those files (owed-restart markers) in the same command. */
  start(name: string, opts?: { clear?: string[] }): Promise<void>;
  stop(name: string): Promise<void>;
  restart(name: string, opts?: { clear?: string[] }): Promise<void>;
  isActive(name: string): Promise<boolean>;
}

export type EnsureAction = 'none' | 'started' | 'restarted';

/**
 * Install and make sure it runs: start it when it is not running; restart it when it runs but its definition or
 * anything it reads (configuration, certificates: `restartIfRunning`) changed; otherwise leave it alone, so a rerun
 * with nothing to do does not bounce a healthy daemon. `owed`: the markers of a restart owed to the daemon
 * (host-config.ts), removed once it runs again, started or restarted.
 */
export async function ensureService(
  manager: ServiceManager,
  spec: ServiceSpec,
  opts: { restartIfRunning: boolean; owed?: string[] },
): Promise<{ definitionChanged: boolean; action: EnsureAction }> {
  const { changed } = await manager.install(spec);
  const clear = opts.owed?.length ? { clear: opts.owed } : undefined;
  if (!(await manager.isActive(spec.name))) {
    await manager.start(spec.name, clear);
    return { definitionChanged: changed, action: 'started' };
  }
  if (changed || opts.restartIfRunning) {
    await manager.restart(spec.name, clear);
    return { definitionChanged: changed, action: 'restarted' };
  }
  return { definitionChanged: changed, action: 'none' };
}

const serviceName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function checkServiceName(name: string): void {
  if (!serviceName.test(name)) throw new InvalidInputError(`invalid service name ${JSON.stringify(name)}`);
}

export function checkServiceSpec(spec: ServiceSpec): void {
  checkServiceName(spec.name);
  if (!spec.command[0]?.startsWith('/')) {
    throw new InvalidInputError(`service ${spec.name}: the command must start with an absolute path`);
  }
  for (const s of [spec.description, spec.documentation ?? '', ...spec.command, ...Object.values(spec.env ?? {})]) {
    // A newline would end a unit-file line or an env-file assignment early, and inject whatever follows.
    if (/[\n\r\0]/.test(s))
      throw new InvalidInputError(`service ${spec.name}: values must not contain newlines or NUL`);
  }
  for (const k of Object.keys(spec.env ?? {})) {
    if (!envName.test(k) || k.startsWith('K2H_')) {
      throw new InvalidInputError(`service ${spec.name}: invalid environment variable name ${JSON.stringify(k)}`);
    }
  }
}
