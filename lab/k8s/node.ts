// Turns a lab host into one that can run a real kubelet: containerd (its state in the host's private /var and
// /run) that pulls from the lab registry over plain HTTP, Debian's CNI plugins with this host's pod range and
// routes to the other hosts' ranges, a cgroup root of its own, and a "kubelet unit": what kubelet.service with
// kubeadm's drop-in does under systemd (restart the kubelet until kubeadm has written its configuration), since
// lab hosts have no systemd. Both daemons start from /etc/k2h-lab/boot.d, so a host that is stopped and started
// comes back with them, as a rebooted machine would.
//
// What is deliberately lab-only lives in /etc/default/kubelet (KUBELET_EXTRA_ARGS, the file a real user edits for
// per-host flags): the cgroupfs driver and cgroup root, the node IP (lab hosts have no default route, so the
// kubelet cannot guess it) and swap. The kubeadm configuration stays what a user would write for real hosts.
import { envFilePath, pidFilePath, renderEnvFile } from '../../src/activities/services/supervisor.js';
import { quote } from '../../src/ssh/quote.js';
import type { Lab, LabHost } from '../lab.js';
import { cgroupRootOf, podRangeOf } from './addresses.js';
import { createCgroupRoot } from './side-effects.js';

export interface K8sNodeSettings {
  /** host:port of the lab registry, e.g. 10.200.5.1:5000. */
  registry: string;
  /** Full pause image reference containerd uses for pod sandboxes. */
  pauseImage: string;
  /** 'static' (default): this host's /28 of pods on Debian's bridge + host-local, routes to the others' /28s.
   * 'none': no CNI configuration and no pod routes, as on a fresh node; a pod network (flannel) installs them. */
  cni?: LabCni;
}

export type LabCni = 'static' | 'none';

/** containernetworking-plugins' directory on Debian. */
const DEBIAN_CNI_DIR = '/usr/lib/cni';

/** Where containerd looks for CNI plugins. Static: Debian's own directory. None: upstream's /opt/cni/bin, where pod
 * network DaemonSets (flannel's init container) install their plugin; Debian's plugins are linked into it, as the
 * kubernetes-cni package of pkgs.k8s.io would install them there. */
export const cniBinDirOf = (cni: LabCni = 'static'): string => (cni === 'none' ? '/opt/cni/bin' : DEBIAN_CNI_DIR);

export const BOOT_DIR = '/etc/k2h-lab/boot.d';
export const KUBELET_SERVICE = '/usr/local/sbin/k2h-kubelet-service';
export const KUBELET_LOG = '/var/log/kubelet.log';
const KUBELET_PID = pidFilePath('kubelet');

export function containerdConfig(s: K8sNodeSettings): string {
  return `# kubeadm2ha lab host (lab/k8s/node.ts)
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${s.pauseImage}"
  # The kubelet asks for oom_score_adj -998 for sandboxes; lowering it needs CAP_SYS_RESOURCE, which these machines
  # do not grant, and runc then dies with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${cniBinDirOf(s.cni)}"
    conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # cgroupfs, like the kubelet (flags in /etc/default/kubelet): lab hosts have no systemd to delegate to.
        SystemdCgroup = false
`;
}

/** The lab registry speaks plain HTTP on the lab bridge: containerd must be told, per registry host. */
export function registryHostsToml(registry: string): string {
  return `server = "http://${registry}"

[host."http://${registry}"]
  capabilities = ["pull", "resolve"]
`;
}

export function cniConfig(podRange: string): string {
  return (
    JSON.stringify(
      {
        cniVersion: '0.4.0',
        name: 'k2h-lab',
        plugins: [
          {
            type: 'bridge',
            bridge: 'cni0',
            isGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: { type: 'host-local', ranges: [[{ subnet: podRange }]], routes: [{ dst: '0.0.0.0/0' }] },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
          { type: 'loopback' },
        ],
      },
      null,
      2,
    ) + '\n'
  );
}

/** The kubelet unit: the command line is the one kubeadm's systemd drop-in builds from the same files. The pause
 * between restarts is systemd's RestartSec, not a synchronisation. */
export const KUBELET_SERVICE_SCRIPT = `#!/bin/sh
# kubeadm2ha lab host: kubelet.service + 10-kubeadm.conf for a host without systemd. Restarts the kubelet whenever
# it exits, as Restart=always does; before kubeadm init/join has written /var/lib/kubelet/config.yaml the kubelet
# cannot start, exactly like the crash-looping unit kubeadm expects on a fresh node.
echo $$ > ${KUBELET_PID}
trap 'kill "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
while :; do
  if [ -x /usr/bin/kubelet ] && [ -f /var/lib/kubelet/config.yaml ]; then
    KUBELET_KUBEADM_ARGS= KUBELET_EXTRA_ARGS=
    [ -f /var/lib/kubelet/kubeadm-flags.env ] && . /var/lib/kubelet/kubeadm-flags.env
    [ -f /etc/default/kubelet ] && . /etc/default/kubelet
    # shellcheck disable=SC2086
    /usr/bin/kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \\
      --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml \\
      $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS >>${KUBELET_LOG} 2>&1 &
    child=$!
    wait "$child"
    echo "$(date -Is) kubelet exited $?; restarting" >>${KUBELET_LOG}
  fi
  sleep 1 &
  child=$!
  wait "$child"
done
`;

const CONTAINERD_BOOT = `#!/bin/sh
# Start containerd unless it runs (its pid file names a live containerd).
pid=$(cat /run/containerd.pid 2>/dev/null || true)
if [ -n "$pid" ] && [ "$(readlink /proc/$pid/exe 2>/dev/null)" = /usr/bin/containerd ]; then exit 0; fi
setsid nohup /usr/bin/containerd </dev/null >>/var/log/containerd.log 2>&1 &
echo $! > /run/containerd.pid
`;

/** The unit is a k2h-supervise service named kubelet (src/activities/services/supervisor.ts: definition, pid file),
 * so kubeadm2ha stops and starts it the way it does on any host without systemd (uninstall stops it around
 * `kubeadm reset`, as `systemctl stop kubelet` does on systemd hosts). */
const KUBELET_DEFINITION = renderEnvFile({
  name: 'kubelet',
  description: 'kubelet (kubeadm2ha lab host)',
  command: ['/bin/sh', KUBELET_SERVICE],
});

const KUBELET_BOOT = `#!/bin/sh
pid=$(cat ${KUBELET_PID} 2>/dev/null || true)
if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then exit 0; fi
setsid nohup /bin/sh ${KUBELET_SERVICE} </dev/null >/dev/null 2>&1 &
`;

/** Stop the kubelet unit and the kubelet (what `systemctl stop kubelet` does), e.g. before `kubeadm reset`. */
export const STOP_KUBELET = `pid=$(cat ${KUBELET_PID} 2>/dev/null || true)
[ -n "$pid" ] && kill "$pid" 2>/dev/null
for i in $(seq 100); do pgrep -x kubelet >/dev/null || break; sleep 0.1; done
pkill -x kubelet 2>/dev/null; rm -f ${KUBELET_PID}; true`;

export const START_KUBELET = `${BOOT_DIR}/20-kubelet`;

/** A shell command that writes `content` to `path` (directories made, mode set), every argument quoted. */
export function writeFileCommand(path: string, content: string, mode = '0644'): string {
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  return `mkdir -p ${quote(dir)} && printf %s ${quote(content)} > ${quote(path)} && chmod ${mode} ${quote(path)}`;
}

/** Prepare `host` of `lab` (whose Kubernetes hosts are `k8sHosts`) and start containerd and the kubelet unit. */
export async function prepareK8sNode(
  lab: Lab,
  host: LabHost,
  k8sHosts: readonly LabHost[],
  s: K8sNodeSettings,
): Promise<void> {
  const root = cgroupRootOf(lab.id, host.index);
  createCgroupRoot(lab.dir, root);
  const kubeletArgs = [
    '--cgroup-driver=cgroupfs',
    `--cgroup-root=/${root}`,
    `--node-ip=${host.address}`,
    '--fail-swap-on=false',
  ].join(' ');
  const routes = k8sHosts
    .filter((h) => h.index !== host.index)
    .map((h) => `ip route replace ${podRangeOf(lab.id, h.index)} via ${h.address} dev eth0`);
  const cni =
    (s.cni ?? 'static') === 'static'
      ? [
          writeFileCommand('/etc/cni/net.d/10-k2h-lab.conflist', cniConfig(podRangeOf(lab.id, host.index))),
          // Routes are per boot like any network configuration; kept in a boot script too.
          writeFileCommand(`${BOOT_DIR}/05-pod-routes`, `#!/bin/sh\n${routes.join('\n')}\n`, '0755'),
          `${BOOT_DIR}/05-pod-routes`,
        ]
      : [`mkdir -p ${cniBinDirOf('none')} && ln -sf ${DEBIAN_CNI_DIR}/* ${cniBinDirOf('none')}/`];
  const cmds = [
    writeFileCommand('/etc/containerd/config.toml', containerdConfig(s)),
    writeFileCommand(`/etc/containerd/certs.d/${s.registry}/hosts.toml`, registryHostsToml(s.registry)),
    ...cni,
    writeFileCommand(
      '/etc/default/kubelet',
      `# kubeadm2ha lab host: per-host kubelet flags (lab-only settings; see lab/k8s/node.ts)\nKUBELET_EXTRA_ARGS=${quote(kubeletArgs)}\n`,
    ),
    writeFileCommand(KUBELET_SERVICE, KUBELET_SERVICE_SCRIPT, '0755'),
    writeFileCommand(envFilePath('kubelet'), KUBELET_DEFINITION, '0600'),
    writeFileCommand(`${BOOT_DIR}/10-containerd`, CONTAINERD_BOOT, '0755'),
    writeFileCommand(`${BOOT_DIR}/20-kubelet`, KUBELET_BOOT, '0755'),
    `${BOOT_DIR}/10-containerd`,
    `${BOOT_DIR}/20-kubelet`,
  ];
  await lab.exec(host.name, cmds.join(' && \\\n'));
}

/** containerd answers on its socket (polled by the caller). */
export const CONTAINERD_READY = 'ctr --timeout 2s version >/dev/null 2>&1';

/**
 * The component configurations a kubeadm config needs on these hosts, as YAML documents to append after
 * `---`: the kubelet uses cgroupfs (no systemd to delegate to), and kube-proxy leaves nf_conntrack_max alone — it is
 * one value for the whole machine, read-only from a lab host's network namespace ("open
 * /proc/sys/net/netfilter/nf_conntrack_max: permission denied"). Everything else is what real hosts get.
 */
export const LAB_COMPONENT_CONFIGS = [
  'apiVersion: kubeproxy.config.k8s.io/v1alpha1',
  'kind: KubeProxyConfiguration',
  'conntrack: { maxPerCore: 0 }',
  '---',
  'apiVersion: kubelet.config.k8s.io/v1beta1',
  'kind: KubeletConfiguration',
  'cgroupDriver: cgroupfs',
  '',
].join('\n');
