// Taking a node back to a host ready for a new setup: `kubeadm reset` (skipping remove-etcd-member with external
// etcd: kubeadm would look for a local etcd that does not exist and wait 60 s for it), CNI state, the iptables
// chains kube-proxy, the kubelet, flannel and the CNI plugins left (kubeadm reset leaves them: "The reset process does
// not clean your iptables rules"), our daemons (keepalived, the load balancer, etcd) stopped with their configs, data
// and certificates removed, and the packages purged when asked. Every part checks before it acts, so a second run
// finds nothing to do and says so.
import type { HostContext } from '../plan/types.js';
import { quote, type HostSession } from '../ssh/index.js';
import { KEEPALIVED_CHECK_SCRIPT, KEEPALIVED_CONF } from '../templates/keepalived.js';
import { HAPROXY_CFG, NGINX_CONF } from '../templates/load-balancer.js';
import { keepAlive, warn } from './activity-context.js';
import { NGINX_LB_SERVICE } from './apiserver-vip.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { KUBE_PACKAGES } from './kube-packages.js';
import { KUBEADM2HA_DIR } from './kubeadm.js';
import { GC_ROOT_LABEL, RELEASE_SCRIPT } from './images-host.js';
import { detectServiceManager } from './services/index.js';
import { envFilePath } from './services/supervisor.js';
import { unitPath } from './services/systemd.js';

export interface ResetNodeInput {
  host: HostContext;
  externalEtcd: boolean;
  removePackages: boolean;
}

export interface RemoveDaemonsInput {
  host: HostContext;
  /** Which of ours to stop and remove; etcd's data dir goes with it when given. */
  keepalived: boolean;
  loadBalancer: boolean;
  etcd?: {
    dataDir: string;
    configPath: string;
    /** TLS files the etcd setup placed (on a pure etcd host nothing else removes them). */
    files?: string[];
  };
}

export interface UninstallResult {
  host: string;
  /** What was done (empty on a host that had nothing left). */
  removed: string[];
  /** What a best-effort part could not do, and why (the step still succeeds); absent when there is none. */
  warnings?: string[];
}

/** RELEASE_SCRIPT's answer: how many blobs it let go, or, when it failed or printed anything but one count, a
 * warning saying so (best-effort: the blobs stay kept, the uninstall goes on). */
export function releasedBlobs(r: {
  code: number | null;
  stdout: string;
  stderr: string;
}): { released: number; warning?: string } {
  const what = `the blobs an images push kept from containerd's GC (${GC_ROOT_LABEL}) were not let go`;
  const tail = (s: string) => s.trim().split('\n').slice(-3).join(' | ').slice(0, 300);
  if (r.code !== 0)
    return {
      released: 0,
      warning: `${what}: the release exited with ${r.code ?? 'a signal'}${r.stderr.trim() ? `: ${tail(r.stderr)}` : ''}`,
    };
  const out = r.stdout.trim();
  if (!/^\d+$/.test(out))
    return {
      released: 0,
      warning: `${what}: the release printed ${out === '' ? 'nothing' : JSON.stringify(tail(out))} instead of a count`,
    };
  return { released: Number(out) };
}

// CNI state a pod network leaves: IPAM leases, flannel's subnet file and config, its interfaces.
const cniCleanup = `r=""
for p in /var/lib/cni /run/flannel /etc/cni/net.d/10-flannel.conflist; do [ -e "$p" ] && rm -rf -- "$p" && r="$r $p"; done
for l in cni0 flannel.1; do ip link show "$l" >/dev/null 2>&1 && ip link delete "$l" && r="$r link:$l"; done
echo "$r"`;

// Chains of Kubernetes' (KUBE-*: kube-proxy and the kubelet), flannel's and the CNI plugins' (CNI-*), and every rule
// that jumps to one, in each table of both iptables back ends (kube-proxy picks the one the host's rules use) and both
// families; everything else in a table is restored as it was. kube-proxy's nftables mode has its own tables.
const iptablesCleanup = `r=""
ours='KUBE-|FLANNEL|CNI-'
for v in legacy nft; do for fam in iptables ip6tables; do
  command -v "$fam-$v-save" >/dev/null 2>&1 || continue
  for t in filter nat mangle raw; do
    cur=$("$fam-$v-save" -t "$t" 2>/dev/null) || continue
    printf '%s\\n' "$cur" | grep -Eq "^:($ours)|-[jg] ($ours)" || continue
    printf '%s\\n' "$cur" | grep -Ev "^:($ours)|^-A ($ours)|-[jg] ($ours)" | "$fam-$v-restore" -w 5
    r="$r $fam-$v:$t"
  done
done; done
if command -v nft >/dev/null 2>&1; then for f in ip ip6; do
  nft list table "$f" kube-proxy >/dev/null 2>&1 && nft delete table "$f" kube-proxy && r="$r nft:$f/kube-proxy"
done; fi
echo "$r"`;

const isInstalled = async (session: HostSession, definition: string): Promise<boolean> =>
  (await session.run(['test', '-f', definition], { allowNonZero: true, action: 'is the kubelet supervised' })).code ===
  0;

export function createUninstallActivities(deps: ActivityDeps) {
  return {
    async resetNode({ host, externalEtcd, removePackages }: ResetNodeInput): Promise<UninstallResult> {
      return withFailures(async () => {
        const session = deps.session(host);
        const removed: string[] = [];
        const warnings: string[] = [];
        const state = await session.run(
          {
            script:
              'command -v kubeadm >/dev/null && { [ -n "$(ls -A /etc/kubernetes/manifests 2>/dev/null)" ] || [ -f /etc/kubernetes/kubelet.conf ] || [ -d /var/lib/kubelet/pki ]; }',
          },
          { allowNonZero: true, action: 'is there Kubernetes state' },
        );
        if (state.code === 0) {
          const manager = await detectServiceManager(session);
          // The kubelet must be stopped first, or it recreates the static pods kubeadm reset is removing and keeps
          // port 10250 for the next setup's preflight to refuse. kubeadm stops it itself only under systemd; without
          // systemd the kubelet's unit is a k2h-supervise service, restarted after the reset to wait, like the
          // crash-looping unit of a fresh node, for the next kubeadm init or join to write its config.
          const supervised = manager.kind === 'supervisor' && (await isInstalled(session, envFilePath('kubelet')));
          if (manager.kind === 'systemd')
            await session.run(['systemctl', 'stop', 'kubelet'], {
              allowNonZero: true,
              action: 'systemctl stop kubelet',
            });
          else if (supervised) await manager.stop('kubelet');
          await keepAlive(
            session.run(['kubeadm', 'reset', '-f', ...(externalEtcd ? ['--skip-phases=remove-etcd-member'] : [])], {
              action: 'kubeadm reset',
              timeoutMs: 600_000,
            }),
            { host: host.target.name, step: 'kubeadm reset' },
          );
          removed.push('kubeadm reset');
          if (supervised) await manager.start('kubelet');
        }
        // Blobs an `images push` that never verified this host kept from containerd's GC (its GC root label): let go,
        // so containerd collects them. Best-effort: a containerd that does not answer keeps them, and the step's result
        // and the worker's log say so (warnings).
        const kept = await session.run(['sh', '-c', RELEASE_SCRIPT], {
          allowNonZero: true,
          action: 'let go of the blobs images push kept',
        });
        const { released, warning } = releasedBlobs(kept);
        if (released) removed.push(`${GC_ROOT_LABEL} on ${released} blobs`);
        if (warning) {
          warnings.push(warning);
          warn(warning, { host: host.target.name });
        }
        const ours = await session.run(
          { script: `[ -d ${quote(KUBEADM2HA_DIR)} ] && rm -rf -- ${quote(KUBEADM2HA_DIR)} && echo yes || true` },
          { action: `remove ${KUBEADM2HA_DIR}` },
        );
        if (ours.stdout.includes('yes')) removed.push(KUBEADM2HA_DIR);
        const cni = await session.run({ script: cniCleanup }, { action: 'remove CNI state' });
        removed.push(...cni.stdout.trim().split(' ').filter(Boolean));
        const rules = await session.run({ script: iptablesCleanup }, { action: 'remove Kubernetes iptables chains' });
        removed.push(...rules.stdout.trim().split(' ').filter(Boolean));
        if (removePackages) {
          // dpkg keeps purged packages in its database ("pn"): only those installed or with config files left count.
          const installed = await session.run(
            {
              script: `dpkg-query -W -f '\${db:Status-Abbrev} \${Package}\\n' ${KUBE_PACKAGES.join(' ')} 2>/dev/null || true`,
            },
            { action: 'dpkg-query' },
          );
          const pkgs = installed.stdout.split('\n').flatMap((l) => {
            const m = /^.([ic])\S*\s+(\S+)$/.exec(l.trim());
            return m?.[2] ? [m[2]] : [];
          });
          if (pkgs.length > 0) {
            await session.run(['apt-mark', 'unhold', ...pkgs], { action: 'apt-mark unhold', timeoutMs: 60_000 });
            await keepAlive(
              session.run(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'purge', '-y', '-q', ...pkgs], {
                action: 'apt-get purge kubeadm',
                timeoutMs: 600_000,
              }),
              { host: host.target.name, step: 'apt-get purge' },
            );
            removed.push(...pkgs.map((p) => `package:${p}`));
          }
        }
        return { host: host.target.name, removed, ...(warnings.length > 0 && { warnings }) };
      });
    },

    async removeDaemons({ host, keepalived, loadBalancer, etcd }: RemoveDaemonsInput): Promise<UninstallResult> {
      return withFailures(async () => {
        const session = deps.session(host);
        const manager = await detectServiceManager(session);
        const removed: string[] = [];
        // Stop it if it is installed, then remove its definition and files (each path printed once removed).
        const rm = async (name: string, files: string[]) => {
          const def = manager.kind === 'systemd' ? unitPath(name) : envFilePath(name);
          if (
            (await session.run(['test', '-f', def], { allowNonZero: true, action: `is ${name} installed` })).code === 0
          ) {
            await manager.stop(name);
            if (manager.kind === 'systemd')
              await session.run(['systemctl', 'disable', '--quiet', name], {
                allowNonZero: true,
                action: `systemctl disable ${name}`,
              });
          }
          const r = await session.run(
            [
              'sh',
              '-c',
              'for f in "$@"; do if [ -e "$f" ]; then rm -rf -- "$f"; echo "$f"; fi; done',
              'sh',
              ...files,
              def,
            ],
            { action: `remove ${name}` },
          );
          removed.push(...r.stdout.trim().split('\n').filter(Boolean));
        };
        if (keepalived) await rm('keepalived', [KEEPALIVED_CONF, KEEPALIVED_CHECK_SCRIPT]);
        if (loadBalancer) {
          await rm('haproxy', [HAPROXY_CFG]);
          await rm(NGINX_LB_SERVICE, [NGINX_CONF]);
        }
        if (etcd) await rm('etcd', [etcd.configPath, etcd.dataDir, ...(etcd.files ?? [])]);
        if (manager.kind === 'systemd' && removed.some((p) => p.endsWith('.service')))
          await session.run(['systemctl', 'daemon-reload'], { action: 'systemctl daemon-reload' });
        return { host: host.target.name, removed };
      });
    },
  };
}
