// containerd configured for kubeadm: config.toml from the template (cgroup driver, sandbox image, OOM-score
// restriction, CNI directory), one certs.d/<registry>/hosts.toml per configured registry, the config checked by
// `containerd config dump` before it replaces the old one, and containerd restarted only when something changed.
import type { HostContext } from '../plan/types.js';
import { quote } from '../ssh/index.js';
import {
  CONTAINERD_CONFIG,
  hostsTomlPath,
  renderContainerdConfig,
  renderHostsToml,
  type ContainerdSettings,
  type RegistryHosts,
} from '../templates/containerd.js';
import { heartbeat, pause } from './activity-context.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { ensureBinary, ensureDaemon, putCheckedFile } from './host-config.js';
import { FailureType, KubeadmHaError } from '../errors.js';

export interface ConfigureContainerdInput {
  host: HostContext;
  /** Everything but the CNI directory, which is a fact of the host (Debian: /usr/lib/cni; upstream: /opt/cni/bin). */
  settings: Omit<ContainerdSettings, 'cniBinDir'>;
  registries: RegistryHosts[];
}

export interface ConfigureContainerdResult {
  host: string;
  changed: string[];
  action: 'none' | 'started' | 'restarted';
  serviceManager: string;
  /** Where containerd looks for CNI plugins on this host: a pod network installs its plugin there. */
  cniBinDir: string;
}

const CNI_DIRS = ['/opt/cni/bin', '/usr/lib/cni'];

export function createContainerdActivities(deps: ActivityDeps) {
  return {
    async configureContainerd({
      host,
      settings,
      registries,
    }: ConfigureContainerdInput): Promise<ConfigureContainerdResult> {
      return withFailures(async () => {
        const session = deps.session(host);
        const { path: binary } = await ensureBinary(session, 'containerd', 'containerd');
        const cni = await session.run(
          {
            script: `for d in ${CNI_DIRS.map(quote).join(' ')}; do [ -x "$d/bridge" ] && { echo "$d"; exit 0; }; done; echo ${quote(CNI_DIRS[0]!)}`,
          },
          { action: 'find the CNI plugin directory', timeoutMs: 30_000 },
        );
        const changed: string[] = [];
        for (const r of registries) {
          const path = hostsTomlPath(r.host);
          if ((await session.putFile(path, renderHostsToml(r), { mode: 0o644, timeoutMs: 30_000 })).changed)
            changed.push(path);
        }
        const cniBinDir = cni.stdout.trim();
        const config = renderContainerdConfig({ ...settings, cniBinDir });
        const written = await putCheckedFile(session, CONTAINERD_CONFIG, config, {
          mode: 0o644,
          what: 'containerd config.toml',
          check: (candidate) => [binary, '--config', candidate, 'config', 'dump'],
        });
        if (written.changed) changed.push(CONTAINERD_CONFIG);
        // containerd reads certs.d on every pull, but config.toml only at start.
        const svc = await ensureDaemon(
          session,
          {
            name: 'containerd',
            description: 'containerd container runtime',
            command: [binary],
            documentation: 'https://containerd.io',
          },
          written.changed,
        );
        if (svc.action !== 'none') {
          const deadline = deps.now() + 30_000;
          for (;;) {
            const r = await session.run(
              { script: 'ctr --timeout 2s version >/dev/null 2>&1' },
              { allowNonZero: true, action: 'ctr version' },
            );
            if (r.code === 0) break;
            if (deps.now() > deadline)
              throw new KubeadmHaError(
                'containerd did not answer on its socket within 30 s after a restart',
                FailureType.CommandFailed,
                host.target.name,
              );
            heartbeat({ host: host.target.name, waiting: 'containerd' });
            await pause(200);
          }
        }
        return { host: host.target.name, changed, ...svc, cniBinDir };
      });
    },
  };
}
