// containerd configured for kubeadm: config.toml from the template (cgroup driver, sandbox image, OOM-score
// restriction, CNI directory), one certs.d/<registry>/hosts.toml per configured registry, the config checked by
// `containerd config dump` before it replaces the old one, and containerd restarted only when something changed.
// An upgrade sets only the sandbox (pause) image to the target's (setSandboxImage), leaving the rest of the file as
// it is.
import type { HostContext } from '../plan/types.js';
import { quote, type HostSession } from '../ssh/index.js';
import {
  CONTAINERD_CONFIG,
  hostsTomlPath,
  renderContainerdConfig,
  renderHostsToml,
  type ContainerdSettings,
  type RegistryHosts,
  tomlString,
} from '../templates/containerd.js';
import { heartbeat, pause } from './activity-context.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { ensureBinary, ensureDaemon, putCheckedFile, readConfigFile } from './host-config.js';
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

/** A table's header line, e.g. [plugins."io.containerd.grpc.v1.cri"], with either quote style. */
const tableHeader = (dotted: string[]): RegExp =>
  new RegExp(
    `^[ \\t]*\\[[ \\t]*${dotted
      .map((k) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : `(?:"${k.replace(/\./g, '\\.')}"|'${k.replace(/\./g, '\\.')}')`))
      .join('\\.')}[ \\t]*\\][ \\t]*(?:#.*)?$`,
    'm',
  );

/** `key = value` in the table `dotted` of a TOML text: replaced where it is, else added under the table's header,
 * else the table appended. Everything else is left byte for byte. */
function setTableKey(toml: string, dotted: string[], key: string, value: string): string {
  const header = tableHeader(dotted).exec(toml);
  const line = `${key} = ${value}`;
  if (!header) {
    const name = dotted.map((k) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : tomlString(k))).join('.');
    return `${toml}${toml === '' || toml.endsWith('\n') ? '' : '\n'}\n[${name}]\n  ${line}\n`;
  }
  const bodyStart = header.index + header[0].length;
  const next = /^[ \t]*\[/m.exec(toml.slice(bodyStart));
  const bodyEnd = next ? bodyStart + next.index : toml.length;
  const body = toml.slice(bodyStart, bodyEnd);
  const existing = new RegExp(`^([ \\t]*)${key}[ \\t]*=.*$`, 'm').exec(body);
  if (existing) {
    const now = existing[0].replace(/^[ \t]*[\w-]+[ \t]*=[ \t]*/, '').replace(/[ \t]*(?:#.*)?$/, '');
    if (now === value || now === `'${JSON.parse(value) as string}'`) return toml;
    const at = bodyStart + existing.index;
    return `${toml.slice(0, at)}${existing[1]}${line}${toml.slice(at + existing[0].length)}`;
  }
  const indent = /^\n([ \t]*)\S/.exec(body)?.[1] ?? '  ';
  return `${toml.slice(0, bodyStart)}\n${indent}${line}${toml.slice(bodyStart)}`;
}

/** The value of `key` directly in the table `dotted` of a TOML text (a basic or literal string), or undefined. */
function tableKeyValue(toml: string, dotted: string[], key: string): string | undefined {
  const header = tableHeader(dotted).exec(toml);
  if (!header) return undefined;
  const bodyStart = header.index + header[0].length;
  const next = /^[ \t]*\[/m.exec(toml.slice(bodyStart));
  const body = toml.slice(bodyStart, next ? bodyStart + next.index : toml.length);
  const m = new RegExp(`^[ \\t]*${key}[ \\t]*=[ \\t]*(?:"([^"]*)"|'([^']*)')`, 'm').exec(body);
  return m?.[1] ?? m?.[2];
}

/**
 * The sandbox image containerd runs with, from its `containerd config dump` (config.toml and every file it imports,
 * merged, in the dump's own version): version 3 and later (containerd 2, which migrates older files before it dumps
 * them; 2.4.2 prints version 4) [plugins.'io.containerd.cri.v1.images'.pinned_images] `sandbox`; version 2 (1.6, 1.7)
 * [plugins."io.containerd.grpc.v1.cri"] `sandbox_image`. undefined: the dump names none.
 */
export function effectiveSandboxImage(dump: string): string | undefined {
  const version = Number(/^[ \t]*version[ \t]*=[ \t]*(\d+)/m.exec(dump)?.[1] ?? '2');
  return version >= 3
    ? tableKeyValue(dump, ['plugins', 'io.containerd.cri.v1.images', 'pinned_images'], 'sandbox')
    : tableKeyValue(dump, ['plugins', 'io.containerd.grpc.v1.cri'], 'sandbox_image');
}

/** The `imports` a `containerd config dump` lists (1.6: the files it read, config.toml itself among them; 2.x: the
 * patterns as written, globs included, /etc/containerd/conf.d/*.toml by default), in order. */
export function dumpImports(dump: string): string[] {
  const list = /^[ \t]*imports[ \t]*=[ \t]*\[([^\]]*)\]/m.exec(dump)?.[1] ?? '';
  return [...list.matchAll(/"([^"]*)"|'([^']*)'/g)].map((m) => m[1] ?? m[2]!);
}

/** Prints `path<TAB>line` for each line naming a sandbox image in the files the patterns (arguments: absolute or
 * relative to /etc/containerd, globs expanded here, in containerd's order) match. */
const SANDBOX_LINES_SCRIPT = [
  'cd /etc/containerd 2>/dev/null || true',
  "IFS='\n'",
  'for p in "$@"; do for f in $p; do [ -f "$f" ] || continue',
  '  grep -E "^[[:space:]]*(sandbox_image|sandbox)[[:space:]]*=" "$f" | while IFS= read -r l; do printf "%s\\t%s\\n" "$f" "$l"; done',
  'done; done; true',
].join('\n');

/**
 * config.toml with its sandbox (pause) image set to `image`, in the place the file's config version keeps it:
 * version 3 and later (containerd 2; 2.3 and later write version 4, which moved only server settings) `sandbox` in
 * [plugins.'io.containerd.cri.v1.images'.pinned_images]; version 2 (1.6/1.7, what setup writes; containerd 2
 * migrates it when it reads it) `sandbox_image` in [plugins."io.containerd.grpc.v1.cri"]; no version (1.x's
 * version 1) `sandbox_image` in [plugins.cri]. No file: a version 2 file with only that setting. Unchanged when
 * already set.
 */
export function withSandboxImage(toml: string, image: string): string {
  const value = tomlString(image);
  const version = /^[ \t]*version[ \t]*=[ \t]*(\d+)/m.exec(toml)?.[1];
  // Not `=== '3'`: containerd 2.4's own version 4 file got a [plugins."io.containerd.grpc.v1.cri"] table that
  // containerd migrates only from files older than version 3, so it ignored it (test/activities/containerd2.test.ts).
  if (version !== undefined && Number(version) >= 3)
    return setTableKey(toml, ['plugins', 'io.containerd.cri.v1.images', 'pinned_images'], 'sandbox', value);
  if (version === undefined && toml.trim() === '')
    return `version = 2\n\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = ${value}\n`;
  if (version === undefined) return setTableKey(toml, ['plugins', 'cri'], 'sandbox_image', value);
  return setTableKey(toml, ['plugins', 'io.containerd.grpc.v1.cri'], 'sandbox_image', value);
}

/** The sandbox image a config.toml names (any version), or undefined. Basic or literal string: containerd 2 writes
 * its own files (`containerd config default`) with literal ones, 'registry.k8s.io/pause:3.10.1'. */
export function sandboxImageOf(toml: string): string | undefined {
  const m = /^[ \t]*(?:sandbox_image|sandbox)[ \t]*=[ \t]*(?:"([^"]*)"|'([^']*)')/m.exec(toml);
  return m?.[1] ?? m?.[2];
}

const containerdService = (binary: string) => ({
  name: 'containerd',
  description: 'containerd container runtime',
  command: [binary],
  documentation: 'https://containerd.io',
});

/** After containerd (re)started: its socket answers, within 30 s. */
async function waitContainerd(session: HostSession, deps: ActivityDeps, host: string): Promise<void> {
  const deadline = deps.now() + 30_000;
  for (;;) {
    const r = await session.run(
      { script: 'ctr --timeout 2s version >/dev/null 2>&1' },
      { allowNonZero: true, action: 'ctr version' },
    );
    if (r.code === 0) return;
    if (deps.now() > deadline)
      throw new KubeadmHaError(
        'containerd did not answer on its socket within 30 s after a restart',
        FailureType.CommandFailed,
        host,
      );
    heartbeat({ host, waiting: 'containerd' });
    await pause(200);
  }
}

export interface SetSandboxImageInput {
  host: HostContext;
  /** The target's pause image, e.g. registry.k8s.io/pause:3.10.1. */
  image: string;
}

export interface SetSandboxImageResult {
  host: string;
  image: string;
  /** What config.toml named before (absent: nothing, containerd's built-in default). */
  before?: string;
  /** config.toml was rewritten. */
  changed: boolean;
  action: 'none' | 'started' | 'restarted';
}

/**
 * containerd's effective sandbox image is `image`: its `config dump` merges config.toml with every file it imports
 * (2.x import /etc/containerd/conf.d/*.toml by default), and a later import overrides what config.toml says. When it
 * is not, fails (not retryable: only an operator's edit changes it) naming the file that sets it, found by a second
 * command only then. Every run checks, so a re-run after that failure does not pass because config.toml is as wanted.
 */
async function confirmSandboxImage(session: HostSession, binary: string, image: string): Promise<void> {
  const d = await session.run([binary, '--config', CONTAINERD_CONFIG, 'config', 'dump'], {
    action: 'containerd config dump',
    timeoutMs: 60_000,
  });
  const effective = effectiveSandboxImage(d.stdout);
  if (effective === image) return;
  const imports = dumpImports(d.stdout);
  const found = imports.length
    ? await session.run(['sh', '-c', SANDBOX_LINES_SCRIPT, 'sh', ...imports], {
        action: 'find the imported file that sets the sandbox image',
        timeoutMs: 30_000,
      })
    : undefined;
  const main = (f: string) => f === CONTAINERD_CONFIG || f === 'config.toml';
  const setters = (found?.stdout ?? '')
    .split('\n')
    .flatMap((l) => {
      const tab = l.indexOf('\t');
      if (tab < 0) return [];
      const file = l.slice(0, tab);
      const abs = file.startsWith('/') ? file : `/etc/containerd/${file}`;
      return main(abs) ? [] : [{ file: abs, value: sandboxImageOf(l.slice(tab + 1)) }];
    });
  const by = [...setters].reverse().find((s) => s.value === effective) ?? setters.at(-1);
  throw new KubeadmHaError(
    `containerd's effective sandbox image is ${effective === undefined ? 'its built-in default' : effective}, not ` +
      `${image} as written to ${CONTAINERD_CONFIG}: ` +
      (by
        ? `${by.file}, which containerd imports after it, sets it and overrides it; change or remove it there, then run again`
        : `a file it imports (${imports.join(', ') || 'none listed'}) overrides it; change it there, then run again`),
    FailureType.HostNotSuitable,
    session.name,
  );
}

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
          service: 'containerd',
          check: (candidate) => [binary, '--config', candidate, 'config', 'dump'],
        });
        if (written.changed) changed.push(CONTAINERD_CONFIG);
        // containerd reads certs.d on every pull, but config.toml only at start.
        const svc = await ensureDaemon(session, containerdService(binary), written.restart);
        if (svc.action !== 'none') await waitContainerd(session, deps, host.target.name);
        return { host: host.target.name, changed, ...svc, cniBinDir };
      });
    },

    /**
     * The upgrade's sandbox image (kubeadm of the target names its own pause, and warns when containerd's differs):
     * config.toml's sandbox image set to `image`, checked by `containerd config dump`, containerd restarted only when
     * the file changed (or a restart an earlier attempt owed is pending), then the effective value confirmed from the
     * dump of config.toml with its imports (confirmSandboxImage). A second run changes nothing.
     */
    async setSandboxImage({ host, image }: SetSandboxImageInput): Promise<SetSandboxImageResult> {
      return withFailures(async () => {
        if (!/^[^\s"'\\]+$/.test(image))
          throw new KubeadmHaError(`invalid image reference ${JSON.stringify(image)}`, FailureType.InvalidInput);
        const session = deps.session(host);
        // containerd's path is needed only to check a new file and to restart: not asked for when nothing changes.
        let binary: string | undefined;
        const containerd = async () => (binary ??= (await ensureBinary(session, 'containerd', 'containerd')).path);
        const current = await readConfigFile(session, CONTAINERD_CONFIG, 'containerd');
        const text = current.content ?? '';
        const before = sandboxImageOf(text);
        const next = withSandboxImage(text, image);
        let written = { changed: false, restart: current.owed };
        if (next !== text) {
          const bin = await containerd();
          written = await putCheckedFile(session, CONTAINERD_CONFIG, next, {
            mode: 0o644,
            what: 'containerd config.toml',
            service: 'containerd',
            check: (candidate) => [bin, '--config', candidate, 'config', 'dump'],
            current,
          });
        }
        const { changed } = written;
        let action: SetSandboxImageResult['action'] = 'none';
        if (written.restart) {
          action = (await ensureDaemon(session, containerdService(await containerd()), true)).action;
          await waitContainerd(session, deps, host.target.name);
        }
        await confirmSandboxImage(session, binary ?? 'containerd', image);
        return { host: host.target.name, image, ...(before !== undefined && { before }), changed, action };
      });
    },
  };
}
