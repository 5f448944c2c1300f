// Services under systemd: one unit file in /etc/systemd/system (which also overrides a unit a package shipped under
// the same name, e.g. Debian's etcd.service), daemon-reload only when it changed, enabled for boot.
import { shellCommand, type HostSession } from '../../ssh/index.js';
import { checkServiceName, checkServiceSpec, type ServiceManager, type ServiceSpec } from './types.js';

export const unitPath = (name: string): string => `/etc/systemd/system/${name}.service`;

/**
 * One word of a unit-file command line or assignment. systemd splits on spaces and understands double quotes with
 * C escapes; `%` starts a specifier and `$` an environment expansion, so both are doubled to mean themselves.
 */
export function systemdWord(s: string): string {
  const escaped = s.replaceAll('%', '%%').replaceAll('$', () => '$$');
  if (/^[A-Za-z0-9_@%+:,./=-]+$/.test(escaped)) return escaped;
  return `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

export function renderUnit(spec: ServiceSpec): string {
  checkServiceSpec(spec);
  const env = Object.entries(spec.env ?? {}).map(([k, v]) => `Environment=${systemdWord(`${k}=${v}`)}`);
  return [
    '# Managed by kubeadm2ha; changes here are overwritten.',
    '[Unit]',
    `Description=${spec.description.replaceAll('%', '%%')}`,
    ...(spec.documentation ? [`Documentation=${spec.documentation.replaceAll('%', '%%')}`] : []),
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    `Type=${spec.notify ? 'notify' : 'simple'}`,
    ...env,
    `ExecStart=${spec.command.map(systemdWord).join(' ')}`,
    // Like kubeadm's kubelet unit and Debian's etcd unit: come back after a crash, but not in a tight loop.
    'Restart=always',
    'RestartSec=5s',
    'LimitNOFILE=65536',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

export class SystemdServiceManager implements ServiceManager {
  readonly kind = 'systemd' as const;

  constructor(private readonly session: HostSession) {}

  async install(spec: ServiceSpec): Promise<{ changed: boolean }> {
    const { changed } = await this.session.putFile(unitPath(spec.name), renderUnit(spec), { mode: 0o644 });
    if (changed) await this.systemctl('daemon-reload');
    const enabled = await this.session.run(['systemctl', 'is-enabled', '--quiet', spec.name], {
      allowNonZero: true,
      action: `systemctl is-enabled ${spec.name}`,
    });
    if (enabled.code !== 0) await this.systemctl('enable', spec.name, ['--quiet']);
    return { changed };
  }

  // --no-block: a notify unit is "activating" until the daemon says it is ready, and an etcd member is ready only
  // once it has a quorum, i.e. after the *other* members started. Waiting here would serialise (or, with bounded
  // fan-out, deadlock) the members; the health gate waits instead. With markers to clear (a restart owed to the
  // daemon: host-config.ts) it waits, since they may go only once the daemon runs: one command, so no round trip more.
  start(name: string, opts: { clear?: string[] } = {}): Promise<void> {
    return opts.clear?.length
      ? this.runAndClear('start', name, opts.clear)
      : this.systemctl('start', name, ['--no-block']);
  }

  stop(name: string): Promise<void> {
    return this.systemctl('stop', name);
  }

  restart(name: string, opts: { clear?: string[] } = {}): Promise<void> {
    return opts.clear?.length
      ? this.runAndClear('restart', name, opts.clear)
      : this.systemctl('restart', name, ['--no-block']);
  }

  private async runAndClear(verb: 'start' | 'restart', name: string, clear: string[]): Promise<void> {
    checkServiceName(name);
    const script = [
      shellCommand(['systemctl', verb, name]),
      shellCommand(['systemctl', 'is-active', '--quiet', name]),
      shellCommand(['rm', '-f', '--', ...clear]),
    ].join(' && ');
    await this.session.run({ script }, { action: `systemctl ${verb} ${name}`, timeoutMs: 120_000 });
  }

  async isActive(name: string): Promise<boolean> {
    checkServiceName(name);
    const r = await this.session.run(['systemctl', 'is-active', name], {
      allowNonZero: true,
      action: `systemctl is-active ${name}`,
    });
    // "activating" counts: the unit runs and is on its way to ready; the health gate decides the rest.
    return ['active', 'activating', 'reloading'].includes(r.stdout.trim());
  }

  private async systemctl(verb: string, name?: string, flags: string[] = []): Promise<void> {
    if (name !== undefined) checkServiceName(name);
    await this.session.run(['systemctl', ...flags, verb, ...(name === undefined ? [] : [name])], {
      action: `systemctl ${verb}${name === undefined ? '' : ` ${name}`}`,
      timeoutMs: 120_000,
    });
  }
}
