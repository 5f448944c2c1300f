// kubeadm, kubelet and kubectl at exactly the cluster's version from the host's package sources (the inventory's
// mirror), held there (`apt-mark hold`) so an unattended upgrade cannot move a node ahead of its control plane.
// A rerun with the right versions installed and held runs three probes and changes nothing.
import { FailureType, KubeadmHaError } from '../errors.js';
import type { HostContext } from '../plan/types.js';
import { keepAlive } from './activity-context.js';
import type { ActivityDeps } from './deps.js';
import { pickVersion } from '../plan/package-version.js';
import { madisonEntries } from './etcd.js';
import { withFailures } from './failures.js';
import { aptInstall } from './host-config.js';

export const KUBE_PACKAGES = ['kubeadm', 'kubelet', 'kubectl'] as const;
export type KubePackage = (typeof KUBE_PACKAGES)[number];

export interface InstallKubePackagesInput {
  host: HostContext;
  /** Kubernetes version without the v, e.g. 1.34.12. */
  version: string;
  hold: boolean;
  /** Which of them (default all three): an upgrade moves kubeadm first and kubelet/kubectl after its drain. */
  packages?: KubePackage[];
}

export interface KubePackagesResult {
  host: string;
  /** Debian version installed of each package, e.g. { kubeadm: '1.34.12-1.1' }. */
  packages: Record<string, string>;
  installed: boolean;
  held: boolean;
}

const probeScript = `dpkg-query -W -f '\${Package} \${Version} \${db:Status-Abbrev}\\n' kubeadm kubelet kubectl 2>/dev/null || true
echo "held $(apt-mark showhold kubeadm kubelet kubectl 2>/dev/null | tr '\\n' ' ')"
echo "apt $(command -v apt-get || true)"`;

export interface Probe {
  versions: Map<string, string>;
  held: Set<string>;
  apt: boolean;
}

export function parseProbe(text: string): Probe {
  const versions = new Map<string, string>();
  const held = new Set<string>();
  let apt = false;
  for (const line of text.split('\n')) {
    const [a, b, status] = line.trim().split(/\s+/);
    if (a === 'held')
      line
        .slice(5)
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .forEach((p) => held.add(p));
    else if (a === 'apt') apt = Boolean(b);
    // Status "ii", or "hi" once held: installed either way.
    else if (a && b && /^[ih]i$/.test(status ?? '')) versions.set(a, b);
  }
  return { versions, held, apt };
}

export const upstreamOf = (debVersion: string): string => debVersion.replace(/^\d+:/, '').split(/[-+~]/)[0] ?? '';

export function createKubePackagesActivities(deps: ActivityDeps) {
  return {
    async installKubePackages({
      host,
      version,
      hold,
      packages = [...KUBE_PACKAGES],
    }: InstallKubePackagesInput): Promise<KubePackagesResult> {
      return withFailures(async () => {
        const wantedPackages = KUBE_PACKAGES.filter((p) => packages.includes(p));
        const name = host.target.name;
        const session = deps.session(host);
        const probe = async () =>
          parseProbe(
            (await session.run({ script: probeScript }, { action: 'dpkg-query kube packages', timeoutMs: 60_000 }))
              .stdout,
          );
        let now = await probe();
        const right = (p: Probe) => wantedPackages.every((k) => upstreamOf(p.versions.get(k) ?? '') === version);
        const heldAll = (p: Probe) => wantedPackages.every((k) => p.held.has(k));
        let installed = false;
        if (!right(now)) {
          if (!now.apt)
            throw new KubeadmHaError(
              'installing kubeadm/kubelet/kubectl is only supported with apt (Debian/Ubuntu)',
              FailureType.HostNotSuitable,
              name,
            );
          const offered = async () =>
            madisonEntries(
              (
                await session.run(['apt-cache', 'madison', ...wantedPackages], {
                  action: 'apt-cache madison kubeadm',
                  timeoutMs: 60_000,
                })
              ).stdout,
            );
          let list = await offered();
          const pick = (pkg: string) =>
            pickVersion(
              list.filter((e) => e.pkg === pkg).map((e) => e.version),
              version,
            );
          if (wantedPackages.some((p) => !pick(p))) {
            // Package lists may predate the mirror's newest upload: refresh once and look again.
            await keepAlive(
              session.run(['apt-get', 'update', '-q'], { action: 'apt-get update', timeoutMs: 600_000 }),
              { host: name, step: 'apt-get update' },
            );
            list = await offered();
          }
          const wanted = wantedPackages.map((p) => [p, pick(p)] as const);
          const missing = wanted.filter(([, v]) => !v).map(([p]) => p);
          if (missing.length > 0)
            throw new KubeadmHaError(
              `${missing.join(', ')} ${version} not offered by the host's package sources (available: ${list.map((e) => `${e.pkg} ${e.version}`).join(', ') || 'none'})`,
              FailureType.HostNotSuitable,
              name,
            );
          await aptInstall(
            session,
            wanted.map(([p, v]) => `${p}=${v}`),
            { allowHeld: true },
          );
          installed = true;
          now = await probe();
          if (!right(now))
            throw new KubeadmHaError(
              `after apt-get install the packages are ${[...now.versions].map(([k, v]) => `${k} ${v}`).join(', ')}`,
              FailureType.CommandFailed,
              name,
            );
        }
        if (hold && !heldAll(now)) {
          await session.run(['apt-mark', 'hold', ...wantedPackages], { action: 'apt-mark hold', timeoutMs: 60_000 });
          now = await probe();
        } else if (!hold && wantedPackages.some((k) => now.held.has(k))) {
          await session.run(['apt-mark', 'unhold', ...wantedPackages], {
            action: 'apt-mark unhold',
            timeoutMs: 60_000,
          });
          now = await probe();
        }
        return { host: name, packages: Object.fromEntries(now.versions), installed, held: heldAll(now) };
      });
    },
  };
}
