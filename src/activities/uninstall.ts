// Taking a node back to a host ready for a new setup: `kubeadm reset` (skipping remove-etcd-member with external
// etcd: kubeadm would look for a local etcd that does not exist and wait 60 s for it), CNI state, our daemons
// (keepalived, the load balancer, etcd) stopped with their configs and data removed, and the packages purged when
// asked. Every part checks before it acts, so a second run finds nothing to do and says so.
import type { HostContext } from '../plan/types.js';
import { quote } from '../ssh/index.js';
import { KEEPALIVED_CHECK_SCRIPT, KEEPALIVED_CONF } from '../templates/keepalived.js';
import { HAPROXY_CFG, NGINX_CONF } from '../templates/load-balancer.js';
import { keepAlive } from './activity-context.js';
import { NGINX_LB_SERVICE } from './apiserver-vip.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { KUBE_PACKAGES } from './kube-packages.js';
import { KUBEADM2HA_DIR } from './kubeadm.js';
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
  etcd?: { dataDir: string; configPath: string };
}

export interface UninstallResult {
  host: string;
  /** What was done (empty on a host that had nothing left). */
  removed: string[];
}

// CNI state a pod network leaves: IPAM leases, flannel's subnet file and config, its interfaces.
const cniCleanup = `r=""
for p in /var/lib/cni /run/flannel /etc/cni/net.d/10-flannel.conflist; do [ -e "$p" ] && rm -rf -- "$p" && r="$r $p"; done
for l in cni0 flannel.1; do ip link show "$l" >/dev/null 2>&1 && ip link delete "$l" && r="$r link:$l"; done
echo "$r"`;

export function createUninstallActivities(deps: ActivityDeps) {
  return {
    async resetNode({ host, externalEtcd, removePackages }: ResetNodeInput): Promise<UninstallResult> {
      return withFailures(async () => {
        const session = deps.session(host);
        const removed: string[] = [];
        const state = await session.run(
          {
            script:
              'command -v kubeadm >/dev/null && { [ -n "$(ls -A /etc/kubernetes/manifests 2>/dev/null)" ] || [ -f /etc/kubernetes/kubelet.conf ] || [ -d /var/lib/kubelet/pki ]; }',
          },
          { allowNonZero: true, action: 'is there Kubernetes state' },
        );
        if (state.code === 0) {
          const manager = await detectServiceManager(session);
          // kubeadm reset stops the kubelet itself only under systemd; elsewhere it would keep recreating pods.
          if (manager.kind === 'systemd')
            await session.run(['systemctl', 'stop', 'kubelet'], {
              allowNonZero: true,
              action: 'systemctl stop kubelet',
            });
          await keepAlive(
            session.run(['kubeadm', 'reset', '-f', ...(externalEtcd ? ['--skip-phases=remove-etcd-member'] : [])], {
              action: 'kubeadm reset',
              timeoutMs: 600_000,
            }),
            { host: host.target.name, step: 'kubeadm reset' },
          );
          removed.push('kubeadm reset');
        }
        const ours = await session.run(
          { script: `[ -d ${quote(KUBEADM2HA_DIR)} ] && rm -rf -- ${quote(KUBEADM2HA_DIR)} && echo yes || true` },
          { action: `remove ${KUBEADM2HA_DIR}` },
        );
        if (ours.stdout.includes('yes')) removed.push(KUBEADM2HA_DIR);
        const cni = await session.run({ script: cniCleanup }, { action: 'remove CNI state' });
        removed.push(...cni.stdout.trim().split(' ').filter(Boolean));
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
        return { host: host.target.name, removed };
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
        if (etcd) await rm('etcd', [etcd.configPath, etcd.dataDir]);
        if (manager.kind === 'systemd' && removed.some((p) => p.endsWith('.service')))
          await session.run(['systemctl', 'daemon-reload'], { action: 'systemctl daemon-reload' });
        return { host: host.target.name, removed };
      });
    },
  };
}
