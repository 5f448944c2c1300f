// containerd configured for kubeadm: config.toml from the template (cgroup driver, sandbox image, OOM-score
// restriction, CNI directory), one certs.d/<registry>/hosts.toml per configured registry, the config checked by
// `containerd config dump` before it replaces the old one, and containerd restarted only when something changed.
// An upgrade sets only the sandbox (pause) image to the target's (setSandboxImage), leaving the rest of the file as
// it is, confirms it from containerd's own dump (an imported file may override it), and drops containerd 2's CRI pin
// of earlier sandbox images no container uses (containerd 1.6 pins none), so the kubelet's image GC may collect them.
import type { HostContext } from '../plan/types.js';
import { quote, shellCommand, type HostSession } from '../ssh/index.js';
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
  /** Image records whose CRI pin (io.cri-containerd.pinned) this run dropped: pinned by containerd 2 as an earlier
   * sandbox image, no longer pinned by the config, used by no container. Absent: none. */
  unpinned?: string[];
  /** Earlier sandbox images still pinned because a container (a pod's sandbox) uses them: a later run releases
   * them once none does. Absent: none. */
  stillPinned?: string[];
}

/** The label containerd 2's CRI (and 1.7's) puts on an image it pulled as one its config pins (the sandbox image
 * among them); the kubelet's image GC never removes a pinned image. containerd 1.6 neither sets nor reads it. */
export const CRI_PIN_LABEL = 'io.cri-containerd.pinned';
const PINNED_MARK = '#kubeadm2ha:pinned';
const CONTAINERS_MARK = '#kubeadm2ha:containers';

/** An image record carrying the CRI's pin label: its name and the digest of its target (a pulled image has
 * several records, by tag, by digest and by config digest, all with one target). */
export interface PinnedRecord {
  ref: string;
  digest: string;
}

/** The rows of a ctr listing (header dropped) as whitespace-separated columns. */
const table = (text: string): string[][] =>
  text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c[0] !== undefined && c[0] !== '');

/** The images the dump says containerd pins: version 3+ every value of pinned_images (the sandbox image and any
 * other an operator pinned), version 2 its sandbox_image. */
export function configuredPins(dump: string): string[] {
  const version = Number(/^[ \t]*version[ \t]*=[ \t]*(\d+)/m.exec(dump)?.[1] ?? '2');
  if (version < 3) return [effectiveSandboxImage(dump)].filter((x): x is string => x !== undefined);
  const header = tableHeader(['plugins', 'io.containerd.cri.v1.images', 'pinned_images']).exec(dump);
  if (!header) return [];
  const bodyStart = header.index + header[0].length;
  const next = /^[ \t]*\[/m.exec(dump.slice(bodyStart));
  const body = dump.slice(bodyStart, next ? bodyStart + next.index : dump.length);
  return [...body.matchAll(/^[ \t]*[\w"'-]+[ \t]*=[ \t]*(?:"([^"]*)"|'([^']*)')/gm)].map((m) => m[1] ?? m[2]!);
}

/**
 * The pins to drop: every image the CRI pinned whose records name none of the images the config pins now (an
 * earlier sandbox image: containerd 2 pins at pull and never lets go, so the kubelet's GC would keep it for good),
 * unless a container uses one of its records (a pod sandbox still running on it: released by a later run). Grouped
 * by target digest, since the CRI pins every record of a pulled image.
 */
export function stalePins(
  pinned: PinnedRecord[],
  configured: string[],
  containerImages: string[],
): { release: string[]; inUse: string[] } {
  // Compared normalized: a config may say `pause:3.10` where containerd's record is docker.io/library/pause:3.10.
  const wanted = new Set(configured.map(normalizeImageRef));
  const used = new Set(containerImages.map(normalizeImageRef));
  // No record sharing a target with a configured pin's record is released, whatever it is named.
  const keptDigests = new Set(
    pinned.filter((p) => p.digest && wanted.has(normalizeImageRef(p.ref))).map((p) => p.digest),
  );
  const groups = new Map<string, string[]>();
  for (const p of pinned) groups.set(p.digest || p.ref, [...(groups.get(p.digest || p.ref) ?? []), p.ref]);
  const release: string[] = [];
  const inUse: string[] = [];
  for (const [key, refs] of groups) {
    if (keptDigests.has(key) || refs.some((r) => wanted.has(normalizeImageRef(r)))) continue;
    if (refs.some((r) => used.has(normalizeImageRef(r)))) inUse.push(...refs);
    else release.push(...refs);
  }
  return { release, inUse };
}

/**
 * An image reference the way containerd/docker normalize it: no registry host (a first component without '.' or ':'
 * and not `localhost`) means docker.io; docker.io with a single path component means docker.io/library/; neither
 * tag nor digest means :latest. A bare digest (a record by config digest, `sha256:…`) is left as it is.
 */
export function normalizeImageRef(ref: string): string {
  const r = ref.trim();
  if (/^[a-z0-9]+:[0-9a-f]{32,}$/i.test(r)) return r;
  const at = r.indexOf('@');
  const named = at < 0 ? r : r.slice(0, at);
  const digest = at < 0 ? '' : r.slice(at);
  const slash = named.lastIndexOf('/');
  const colon = named.lastIndexOf(':');
  const hasTag = colon > slash;
  const name = hasTag ? named.slice(0, colon) : named;
  const tag = hasTag ? named.slice(colon) : '';
  const first = name.indexOf('/');
  const head = first < 0 ? '' : name.slice(0, first);
  const isHost = head !== '' && (head.includes('.') || head.includes(':') || head === 'localhost');
  let domain = isHost ? head : 'docker.io';
  let path = isHost ? name.slice(first + 1) : name;
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  return `${domain}/${path}${tag || (digest ? '' : ':latest')}${digest}`;
}

/**
 * containerd's effective sandbox image is `image`: its `config dump` merges config.toml with every file it imports
 * (2.x import /etc/containerd/conf.d/*.toml by default), and a later import overrides what config.toml says. When it
 * is not, fails (not retryable: only an operator's edit changes it) naming the file that sets it, found by a second
 * command only then. Every run checks, so a re-run after that failure does not pass because config.toml is as wanted.
 */
async function confirmSandboxImage(
  session: HostSession,
  binary: string,
  image: string,
): Promise<{ dump: string; pinned: PinnedRecord[]; containerImages: string[] }> {
  // One command: the dump, then what stalePins needs (ctr's own lists; empty where ctr cannot answer).
  const d = await session.run(
    {
      script: [
        `${shellCommand([binary, '--config', CONTAINERD_CONFIG, 'config', 'dump'])} || exit 1`,
        `echo ${quote(PINNED_MARK)}`,
        `ctr -n k8s.io images ls ${quote(`labels."${CRI_PIN_LABEL}"==pinned`)} 2>/dev/null || true`,
        `echo ${quote(CONTAINERS_MARK)}`,
        'ctr -n k8s.io containers ls 2>/dev/null || true',
      ].join('\n'),
    },
    { action: 'containerd config dump', timeoutMs: 60_000 },
  );
  const [dump = '', rest = ''] = d.stdout.split(new RegExp(`(?:^|\\n)${PINNED_MARK}\\n`));
  const [pinnedList = '', containerList = ''] = rest.split(new RegExp(`(?:^|\\n)${CONTAINERS_MARK}\\n`));
  const pinned = table(pinnedList).map((c) => ({ ref: c[0]!, digest: c[2] ?? '' }));
  const containerImages = table(containerList).map((c) => c[1] ?? '');

  const effective = effectiveSandboxImage(dump);
  if (effective === image) return { dump, pinned, containerImages };
  const imports = dumpImports(dump);
  const found = imports.length
    ? await session.run(['sh', '-c', SANDBOX_LINES_SCRIPT, 'sh', ...imports], {
        action: 'find the imported file that sets the sandbox image',
        timeoutMs: 30_000,
      })
    : undefined;
  const main = (f: string) => f === CONTAINERD_CONFIG || f === 'config.toml';
  const setters = (found?.stdout ?? '').split('\n').flatMap((l) => {
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
     * dump of config.toml with its imports (confirmSandboxImage). Then the CRI pin of every earlier sandbox image the
     * config no longer pins is dropped (stalePins), unless a container (a pod sandbox not yet recreated) still uses
     * it: that one is reported as stillPinned and released by a later run (the next upgrade's). A second run changes
     * nothing.
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
        const { dump, pinned, containerImages } = await confirmSandboxImage(session, binary ?? 'containerd', image);
        // Only now, with the new image confirmed (and after the restart, so the old one is pinned by nothing but its
        // label): a second command only when there is a stale pin to drop.
        const { release, inUse } = stalePins(pinned, configuredPins(dump), containerImages);
        if (release.length > 0)
          await session.run(
            {
              script: release
                .map(
                  (r) =>
                    `${shellCommand(['ctr', '-n', 'k8s.io', 'images', 'label', r, `${CRI_PIN_LABEL}=`])} >/dev/null`,
                )
                .join(' && '),
            },
            { action: 'drop the CRI pin of earlier sandbox images', timeoutMs: 60_000 },
          );
        return {
          host: host.target.name,
          image,
          ...(before !== undefined && { before }),
          changed,
          action,
          ...(release.length > 0 && { unpinned: release }),
          ...(inUse.length > 0 && { stillPinned: inUse }),
        };
      });
    },
  };
}
