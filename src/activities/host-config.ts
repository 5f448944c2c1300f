// Helpers the setup activities share: a configuration file that the tool reading it checks before it replaces the
// old one, a distribution package installed when its binary is missing, and a daemon (re)started only when
// something it reads changed.
import { FailureType, KubeadmHaError } from '../errors.js';
import { quote, type HostSession } from '../ssh/index.js';
import { keepAlive } from './activity-context.js';
import { detectServiceManager, ensureService, type EnsureAction, type ServiceSpec } from './services/index.js';

/**
 * Write `content` to `path` only after `check(candidatePath)` (an argv) accepted it: the candidate goes next to the
 * target (same filesystem), is checked there, and is renamed over the target. A rejected config leaves the old
 * file, and the daemon using it, alone. `changed: false` when the target already had this content and mode.
 */
export async function putCheckedFile(
  session: HostSession,
  path: string,
  content: string,
  opts: { mode: number; check: (candidate: string) => string[]; what: string },
): Promise<{ changed: boolean }> {
  const current = await session.run(
    { script: `if [ -f ${quote(path)} ]; then stat -c %a ${quote(path)}; cat ${quote(path)}; fi` },
    { action: `read ${path}`, timeoutMs: 30_000 },
  );
  const mode = opts.mode.toString(8);
  if (current.stdout === `${mode}\n${content}`) return { changed: false };
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
  await session.run(['mv', '-f', '--', candidate, path], { action: `install ${path}`, timeoutMs: 30_000 });
  return { changed: true };
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

/** The daemon installed as a service and running; restarted only when `changed` (its config) or its unit did. */
export async function ensureDaemon(
  session: HostSession,
  spec: ServiceSpec,
  changed: boolean,
): Promise<{ action: EnsureAction; serviceManager: string }> {
  const manager = await detectServiceManager(session);
  const { action } = await ensureService(manager, spec, { restartIfRunning: changed });
  return { action, serviceManager: manager.kind };
}
