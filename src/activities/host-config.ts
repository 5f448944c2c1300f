// Helpers the setup activities share: a configuration file that the tool reading it checks before it replaces the
// old one, a distribution package installed when its binary is missing, and a daemon (re)started only when
// something it reads changed.
import { FailureType, KubeadmHaError } from '../errors.js';
import { quote, shellCommand, type HostSession } from '../ssh/index.js';
import { keepAlive } from './activity-context.js';
import { detectServiceManager, ensureService, type EnsureAction, type ServiceSpec } from './services/index.js';

/** A restart owed to a daemon: one file per service, written before a config it reads is replaced and removed only
 * once the daemon runs again. A run cut between the two (worker lost, SSH dropped) leaves it, so the retry, which
 * finds the file already as wanted, still restarts the daemon instead of leaving it on the old config for good. */
export const RESTART_PENDING_DIR = '/var/lib/kubeadm2ha/restart-pending';
export const restartPendingPath = (service: string): string => `${RESTART_PENDING_DIR}/${service}`;

/** Where an earlier version kept a service's marker (setSandboxImage's own, before they were shared): honoured and
 * removed like the current one, so a host cut under that version still gets its restart. */
const EARLIER_MARKERS: Readonly<Record<string, readonly string[]>> = {
  containerd: ['/var/lib/kubeadm2ha/containerd-restart-pending'],
};
/** Every path a restart owed to `service` may be recorded at: a daemon runs its config only when none exists. */
export const restartMarkers = (service: string): string[] => [
  restartPendingPath(service),
  ...(EARLIER_MARKERS[service] ?? []),
];

/** A config file as read, with whether its daemon is owed a restart. */
export interface ConfigFile {
  path: string;
  service: string;
  /** undefined: no such file. */
  content: string | undefined;
  /** Octal permission bits, e.g. '644'; undefined: no such file. */
  mode: string | undefined;
  owed: boolean;
}

/** `path` and whether `service` is owed a restart, in one command. */
export async function readConfigFile(session: HostSession, path: string, service: string): Promise<ConfigFile> {
  const markers = restartMarkers(service).map(quote).join(' ');
  const r = await session.run(
    {
      script:
        `owed=none; for m in ${markers}; do if [ -e "$m" ]; then owed=owed; fi; done; echo "$owed"; ` +
        `if [ -f ${quote(path)} ]; then stat -c %a ${quote(path)}; cat ${quote(path)}; fi`,
    },
    { action: `read ${path}`, timeoutMs: 30_000 },
  );
  const nl = r.stdout.indexOf('\n');
  const rest = r.stdout.slice(nl + 1);
  const modeEnd = rest.indexOf('\n');
  const exists = modeEnd !== -1;
  return {
    path,
    service,
    owed: r.stdout.slice(0, nl) === 'owed',
    mode: exists ? rest.slice(0, modeEnd) : undefined,
    content: exists ? rest.slice(modeEnd + 1) : undefined,
  };
}

/**
 * Write `content` to `path` only after `check(candidatePath)` (an argv) accepted it: the candidate goes next to the
 * target (same filesystem), is checked there, and is renamed over the target. A rejected config leaves the old
 * file, and the daemon using it, alone. `changed: false` when the target already had this content and mode.
 * `restart`: `service` must be restarted to read it, because it changed now or an earlier run cut short owed that;
 * the marker saying so is renamed into place in the same command as the config, just before it (ensureDaemon
 * removes it). `current`: the file as the caller already read it with readConfigFile, not read again.
 */
export async function putCheckedFile(
  session: HostSession,
  path: string,
  content: string,
  opts: {
    mode: number;
    check: (candidate: string) => string[];
    what: string;
    service: string;
    current?: ConfigFile;
  },
): Promise<{ changed: boolean; restart: boolean }> {
  const current = opts.current ?? (await readConfigFile(session, path, opts.service));
  const mode = opts.mode.toString(8);
  if (current.mode === mode && current.content === content) return { changed: false, restart: current.owed };
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  const candidate = `${dir}/.${path.slice(dir.length + 1)}.kubeadm2ha-new`;
  await session.putFile(candidate, content, { mode: opts.mode, timeoutMs: 30_000 });
  const checked = await session.run(opts.check(candidate), {
    action: `check ${opts.what}`,
    allowNonZero: true,
    timeoutMs: 60_000,
  });
  if (checked.code !== 0) {
    await session.run(['rm', '-f', '--', candidate], { action: `remove ${candidate}`, timeoutMs: 30_000 });
    const why = `${checked.stdout}\n${checked.stderr}`.trim().split('\n').slice(-8).join('\n');
    throw new KubeadmHaError(
      `${opts.what} was rejected by its own check; ${path} was left as it was:\n${why}`,
      FailureType.InvalidInput,
      session.name,
    );
  }
  const marker = restartPendingPath(opts.service);
  const script = [
    shellCommand(['mkdir', '-p', '--', RESTART_PENDING_DIR]),
    `${shellCommand(['printf', '%s\\n', path])} > ${quote(`${marker}.tmp`)}`,
    shellCommand(['mv', '-f', '--', `${marker}.tmp`, marker]),
    shellCommand(['mv', '-f', '--', candidate, path]),
  ].join(' && ');
  await session.run({ script }, { action: `install ${path}`, timeoutMs: 30_000 });
  return { changed: true, restart: true };
}

/** `apt-get install` of exact package specs (name=version …), heartbeating while apt works. */
export async function aptInstall(
  session: HostSession,
  specs: string[],
  opts: { allowHeld?: boolean } = {},
): Promise<void> {
  await keepAlive(
    session.run(
      [
        'env',
        'DEBIAN_FRONTEND=noninteractive',
        'apt-get',
        'install',
        '-y',
        '-q',
        '--allow-downgrades',
        ...(opts.allowHeld ? ['--allow-change-held-packages'] : []),
        ...specs,
      ],
      { action: `apt-get install ${specs[0] ?? ''}`, timeoutMs: 900_000 },
    ),
    { host: session.name, installing: specs[0] },
  );
}

/** Install `pkg` with apt when `binary` is not on the PATH; `installed` says whether this call did. */
export async function ensureBinary(
  session: HostSession,
  binary: string,
  pkg: string,
): Promise<{ path: string; installed: boolean }> {
  const which = async () =>
    (
      await session.run(
        { script: `command -v ${quote(binary)} || true` },
        { action: `find ${binary}`, timeoutMs: 30_000 },
      )
    ).stdout.trim();
  const before = await which();
  if (before) return { path: before, installed: false };
  const apt = (await session.run({ script: 'command -v apt-get || true' }, { action: 'find apt-get' })).stdout.trim();
  if (!apt)
    throw new KubeadmHaError(
      `${binary} is missing and only apt hosts are supported for installing ${pkg}`,
      FailureType.HostNotSuitable,
      session.name,
    );
  await aptInstall(session, [pkg]);
  const after = await which();
  if (!after)
    throw new KubeadmHaError(
      `installed ${pkg} but ${binary} is still not on the PATH`,
      FailureType.HostNotSuitable,
      session.name,
    );
  return { path: after, installed: true };
}

/** The daemon installed as a service and running; restarted only when `restart` (putCheckedFile's: its config
 * changed, or a restart is owed) or its unit changed. Once it runs again, the owed-restart markers of `spec.name` go,
 * in the command that started it. */
export async function ensureDaemon(
  session: HostSession,
  spec: ServiceSpec,
  restart: boolean,
): Promise<{ action: EnsureAction; serviceManager: string }> {
  const manager = await detectServiceManager(session);
  const { action } = await ensureService(manager, spec, {
    restartIfRunning: restart,
    ...(restart && { owed: restartMarkers(spec.name) }),
  });
  return { action, serviceManager: manager.kind };
}
