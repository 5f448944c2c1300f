// The uninstall runbook (the seed's cluster-uninstall.yaml): every host back to what a new `kubeadm2ha setup` starts
// from. Nothing is drained: the whole cluster goes away, so there is nowhere to move pods to.
//   workers reset (in parallel) → masters reset → our daemons removed (keepalived, the load balancer, external etcd
//   with its data and certificates)
// Workers go first so no kubelet keeps talking to an apiserver that is being torn down. A reset skips kubeadm's
// remove-etcd-member phase with external etcd (kubeadm would look for a local etcd that does not exist and wait 60 s,
// test/lab/k8s/README.md). With stacked etcd the masters go one at a time, so each leaves a quorate etcd behind.
// Every step checks before it acts: a second uninstall finds nothing and says so.
import type { Host, Inventory } from '../inventory/schema.js';
import { ETCD_CONFIG_PATH, planEtcdSetup } from './etcd.js';
import { runbookFor, step, type OnFailure, type Phase, type Runbook } from './runbook.js';
import { etcdHosts, isEtcd, isMaster, masters, targetOf, workers } from './topology.js';

export interface UninstallOptions {
  /** apt-get purge kubeadm, kubelet, kubectl (unheld first). */
  purgePackages?: boolean;
  onFailure?: OnFailure;
}

export function planUninstall(inv: Inventory, opts: UninstallOptions = {}): Runbook {
  const c = inv.cluster;
  const external = c.etcd.mode === 'external';
  const reset = () =>
    step('resetNode', 'kubeadm reset, CNI state, kube-proxy rules', 'install', {
      externalEtcd: external,
      removePackages: Boolean(opts.purgePackages),
    });
  const pureWorkers = workers(inv).filter((h) => !isMaster(h));
  // The external etcd's data dir and the TLS files its setup placed (a pure etcd host is not reset by kubeadm, and a
  // CA left there would make the next setup refuse a new one).
  const etcd = external ? planEtcdSetup(inv) : undefined;
  const etcdOf = (h: Host) => {
    const m = etcd?.members.find((x) => x.target.name === h.name);
    if (!m || !isEtcd(h)) return undefined;
    const pki = etcd?.pki.find((p) => p.host === h.name);
    const files = [
      ...(pki?.caCertificates.map((f) => f.certPath) ?? []),
      ...(pki?.certificates.flatMap((f) => [f.certPath, f.keyPath]) ?? []),
    ];
    return { dataDir: m.config.dataDir, configPath: ETCD_CONFIG_PATH, files };
  };
  const daemonHosts = inv.hosts.filter(
    (h) => isMaster(h) || (external && etcdHosts(inv).some((e) => e.name === h.name)),
  );

  const phases: Phase[] = [
    {
      id: 'reset-workers',
      title: 'workers: kubeadm reset',
      kind: 'hosts',
      rollout: { kind: 'parallel' },
      hosts: pureWorkers.map((h) => ({ target: targetOf(h), steps: [reset()], maySkip: true })),
    },
    {
      id: 'reset-masters',
      title: 'masters: kubeadm reset',
      kind: 'hosts',
      rollout: external ? { kind: 'parallel' } : { kind: 'serial' },
      hosts: masters(inv).map((h) => ({ target: targetOf(h), steps: [reset()], maySkip: false })),
    },
    {
      id: 'daemons',
      title: 'keepalived, load balancer, etcd',
      kind: 'hosts',
      rollout: { kind: 'parallel' },
      hosts: daemonHosts.map((h) => {
        const e = etcdOf(h);
        return {
          target: targetOf(h),
          steps: [
            step(
              'removeDaemons',
              [isMaster(h) && 'keepalived, load balancer', e && 'etcd, its data and certificates']
                .filter(Boolean)
                .join(', '),
              'hostStep',
              {
                keepalived: isMaster(h),
                loadBalancer: isMaster(h) && c.loadBalancer.kind !== 'none',
                ...(e && { etcd: e }),
              },
            ),
          ],
          // A host left with etcd or the VIP would break the next setup: no skipping.
          maySkip: false,
        };
      }),
    },
  ];
  return runbookFor(
    'uninstall',
    'cluster uninstall',
    inv,
    opts.onFailure,
    phases.filter((p) => p.kind !== 'hosts' || p.hosts.length > 0),
  );
}
