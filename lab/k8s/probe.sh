#!/usr/bin/env bash
# Feasibility probe for issue 4, step 4 (not a test, not run by npm test): can the binaries from
# scripts/build-k8s.sh run a control plane and a kubelet on this machine kind? One throwaway host: a network
# namespace on 10.200.250.0/24 only (a veth pair, no bridge, no default route), its own mount/pid/uts namespaces.
#
#   lab/k8s/probe.sh BIN_DIR [up|down]
#
# up (default): certificates and kubeconfigs from `kubeadm init phase …`, Debian's etcd, then kube-apiserver,
# kube-controller-manager and kube-scheduler run as plain processes with exactly the flags kubeadm writes into their
# static-pod manifests, then containerd and the kubelet with kubeadm's kubelet config. Prints what answers and where
# it stops. The host stays up for inspection; `down` (also run first by `up`) removes everything it made.
set -euo pipefail

BIN="$(cd "${1:?usage: probe.sh BIN_DIR [up|down]}" && pwd)"
ACTION="${2:-up}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NS=k2hk8s
W=/tmp/k2hk8s-probe
NODE_IP=10.200.250.10
ROOT_IP=10.200.250.1
SERVICE_CIDR=10.200.250.128/26
POD_CIDR=10.200.250.192/26
CGROUP_ROOT=k2hk8s

log() { printf '%s probe: %s\n' "$(date +%T)" "$*" >&2; }

# Run a command inside the host: its mount, pid, uts and network namespaces.
in_host() { nsenter -t "$(cat "$W/init.pid")" -m -p -u -n -- "$@"; }

# Wait (bounded) until a command succeeds.
wait_for() {
  local what=$1 tries=$2
  shift 2
  for ((i = 0; i < tries; i++)); do
    if "$@" >/dev/null 2>&1; then
      log "$what: ok after ~$((i / 2)) s"
      return 0
    fi
    sleep 0.5
  done
  log "$what: NOT ok after $((tries / 2)) s"
  return 1
}

# The kubelet sets these machine-wide sysctls at start (its "kernel defaults"): vm.overcommit_memory=1,
# kernel.panic=10, kernel.panic_on_oops=1, root key quotas. They are not per network namespace, so a kubelet in a
# lab host changes the whole machine; we put back what was there.
SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes)

down() {
  if [[ -f "$W/sysctl.saved" ]]; then
    sysctl -q -p "$W/sysctl.saved" || true
  fi
  if [[ -f "$W/unshare.pid" ]]; then
    local u init
    u=$(cat "$W/unshare.pid")
    init=$(cat "/proc/$u/task/$u/children" 2>/dev/null | awk '{print $1}')
    # Every daemon of the host dies with its pid namespace when its PID 1 goes.
    [[ -n "$init" ]] && kill -KILL "$init" 2>/dev/null || true
    for _ in $(seq 50); do
      [[ -d /proc/$u ]] && ! grep -q ') Z' "/proc/$u/stat" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$u" 2>/dev/null || true
  fi
  ip netns del "$NS" 2>/dev/null || true
  ip link del "$NS-v0" 2>/dev/null || true
  # The kubelet's cgroups (cgroupfs driver, cgroupRoot /k2hk8s): children first.
  for h in /sys/fs/cgroup/*/; do
    [[ -d "$h$CGROUP_ROOT" ]] && find "$h$CGROUP_ROOT" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  rm -rf "$W"
}

if [[ "$ACTION" == down ]]; then
  down
  exit 0
fi
down

log "host: netns $NS at $NODE_IP"
mkdir -p "$W"
ip netns add "$NS"
ip link add "$NS-v0" type veth peer name eth0 netns "$NS"
ip addr add "$ROOT_IP/24" dev "$NS-v0"
ip link set "$NS-v0" up
ip -n "$NS" link set lo up
ip -n "$NS" addr add "$NODE_IP/24" dev eth0
ip -n "$NS" link set eth0 up
nsenter --net=/run/netns/$NS unshare --pid --fork --kill-child=SIGKILL --mount-proc --mount --uts \
  --propagation private bash "$HERE/probe-host-init.sh" "$W" </dev/null >/dev/null 2>&1 &
echo $! >"$W/unshare.pid"
wait_for "host init" 20 test -f "$W/init.ready"
u=$(cat "$W/unshare.pid")
awk '{print $1}' "/proc/$u/task/$u/children" >"$W/init.pid"
in_host mkdir -p /usr/local/bin
# /usr is not overlaid: bind the binaries in on top of the host's private /opt instead.
in_host mkdir -p /opt/k8s
in_host mount --bind "$BIN" /opt/k8s
K=/opt/k8s
version=$("$BIN/kubeadm" version -o short)

in_host tee /etc/kubeadm.yaml >/dev/null <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint: { advertiseAddress: $NODE_IP, bindPort: 6443 }
nodeRegistration:
  name: k2hk8s-probe
  criSocket: unix:///run/containerd/containerd.sock
  # No default route on lab hosts, so the kubelet cannot guess its address.
  kubeletExtraArgs: [{ name: node-ip, value: $NODE_IP }]
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: $version
clusterName: k2hk8s
networking: { serviceSubnet: $SERVICE_CIDR, podSubnet: $POD_CIDR }
# Everything stays inside 10.200.250.0/24, so the pod /26 needs node ranges smaller than the default /24.
controllerManager: { extraArgs: [{ name: node-cidr-mask-size-ipv4, value: "27" }] }
etcd: { local: { dataDir: /var/lib/etcd } }
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
failSwapOn: false
EOF

log "kubeadm $version: certs, kubeconfigs, control-plane manifests"
in_host $K/kubeadm init phase certs all --config /etc/kubeadm.yaml
in_host $K/kubeadm init phase kubeconfig all --config /etc/kubeadm.yaml
in_host $K/kubeadm init phase control-plane all --config /etc/kubeadm.yaml
in_host $K/kubeadm init phase etcd local --config /etc/kubeadm.yaml

# The static-pod manifests' command lines, run as plain processes (no images here to run them as pods).
start_component() {
  local name=$1 exe=${2:-$K/$1}
  local args
  args=$(in_host /usr/bin/python3 -c '
import sys, yaml
pod = yaml.safe_load(open(sys.argv[1]))
import shlex
print(" ".join(shlex.quote(a) for a in pod["spec"]["containers"][0]["command"][1:]))' \
    "/etc/kubernetes/manifests/$name.yaml")
  if [[ "$name" == etcd ]]; then
    # kubeadm writes flags for etcd 3.6; Debian's 3.4 spells two of them the old way and rejects the new spelling
    # ("flag provided but not defined: -feature-gates").
    args=${args/--feature-gates=InitialCorruptCheck=true/--experimental-initial-corrupt-check=true}
    args=${args/--watch-progress-notify-interval=/--experimental-watch-progress-notify-interval=}
  fi
  echo "$exe $args" >>"$W/commands.log"
  in_host bash -c "setsid nohup $exe $args </dev/null >/var/log/$name.log 2>&1 &"
}

P=/etc/kubernetes/pki
start_component etcd /usr/bin/etcd
wait_for "etcd health" 40 in_host env ETCDCTL_API=3 etcdctl --endpoints https://127.0.0.1:2379 --cacert $P/etcd/ca.crt \
  --cert $P/apiserver-etcd-client.crt --key $P/apiserver-etcd-client.key --command-timeout=1s endpoint health
start_component kube-apiserver
# super-admin.conf (system:masters): admin.conf only gets its rights from a binding `kubeadm init` creates later.
KC="$K/kubectl --kubeconfig /etc/kubernetes/super-admin.conf"
wait_for "kube-apiserver /healthz" 240 in_host $KC get --raw /healthz
wait_for "kube-apiserver /readyz" 120 in_host $KC get --raw /readyz
in_host $KC version -o yaml | sed -n '/serverVersion/,$p' | grep -E 'gitVersion|goVersion' >&2 || true
start_component kube-controller-manager
start_component kube-scheduler
wait_for "kube-controller-manager /healthz" 120 in_host curl -fsk https://127.0.0.1:10257/healthz
wait_for "kube-scheduler /livez" 120 in_host curl -fsk https://127.0.0.1:10259/livez
in_host $KC get --raw '/readyz?verbose' | tail -3 >&2 || true
# What `kubeadm init` does after the control plane is up: admin.conf's group (and the apiserver's kubelet client,
# for logs and exec) become cluster admins.
in_host $KC create clusterrolebinding kubeadm:cluster-admins --clusterrole=cluster-admin \
  --group=kubeadm:cluster-admins >/dev/null
# The rest of `kubeadm init`'s cluster-side phases, for real (RBAC for node bootstrap and for the apiserver's
# kubelet client, the kubeadm-config and kubelet-config ConfigMaps, a bootstrap token).
in_host $K/kubeadm init phase upload-config kubeadm --config /etc/kubeadm.yaml >&2
in_host $K/kubeadm init phase bootstrap-token --config /etc/kubeadm.yaml >&2

log "containerd + kubelet"
in_host mkdir -p /etc/containerd /etc/cni/net.d
in_host tee /etc/cni/net.d/10-k2hk8s.conflist >/dev/null <<EOF
{ "cniVersion": "0.4.0", "name": "k2hk8s", "plugins": [
  { "type": "bridge", "bridge": "k2hk8s-cni0", "isGateway": true, "ipMasq": false,
    "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$POD_CIDR" }]] } },
  { "type": "loopback" } ] }
EOF
# containerd 1.6 takes the sandbox image from its own config, not from the kubelet; name it as kubeadm expects.
pause_image=$(in_host $K/kubeadm config images list --config /etc/kubeadm.yaml 2>/dev/null | grep /pause:)
in_host tee /etc/containerd/config.toml >/dev/null <<EOF
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  # The kubelet asks for oom_score_adj -998 for sandboxes; lowering it needs CAP_SYS_RESOURCE, which this machine
  # kind does not grant, and runc then dies with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "/etc/cni/net.d"
EOF
in_host bash -c 'setsid nohup containerd </dev/null >/var/log/containerd.log 2>&1 &'
wait_for "containerd" 40 in_host ctr version

# No registry is reachable: a pause image and a test image from the static busybox, imported as OCI archives.
# oci_image REF ROOTFS ENTRYPOINT_JSON: one uncompressed layer, config, manifest, index; imported with ctr.
oci_image() {
  local ref=$1 rootfs=$2 entrypoint=$3 d layer cfg man
  d=$(mktemp -d "$W/image.XXXXXX")
  mkdir -p "$d/oci/blobs/sha256"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$rootfs" -cf "$d/layer.tar" .
  layer=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entrypoint" "$layer" >"$d/config.json"
  cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1)
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}' \
    "$cfg" "$(stat -c %s "$d/config.json")" "$layer" "$(stat -c %s "$d/layer.tar")" >"$d/manifest.json"
  man=$(sha256sum "$d/manifest.json" | cut -d' ' -f1)
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$man" "$(stat -c %s "$d/manifest.json")" "$ref" "${ref##*:}" >"$d/oci/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$d/oci/oci-layout"
  mv "$d/layer.tar" "$d/oci/blobs/sha256/$layer"
  mv "$d/config.json" "$d/oci/blobs/sha256/$cfg"
  mv "$d/manifest.json" "$d/oci/blobs/sha256/$man"
  tar -C "$d/oci" -cf "$d/image.tar" .
  in_host ctr -n k8s.io images import "$d/image.tar" >/dev/null
}
mkdir -p "$W/rootfs/bin" "$W/rootfs/etc" "$W/rootfs/proc" "$W/rootfs/sys" "$W/rootfs/dev" "$W/rootfs/tmp"
cp /usr/bin/busybox "$W/rootfs/bin/busybox"
ln -sf busybox "$W/rootfs/bin/sh"
# A pause stand-in (the real one is a tiny C program): sleeps, exits on TERM/INT.
oci_image "$pause_image" "$W/rootfs" '["/bin/busybox","sh","-c","trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait $!; done"]'
oci_image registry.k8s.io/k2hk8s/busybox:1 "$W/rootfs" '["/bin/busybox","sh"]'
in_host ctr -n k8s.io images ls -q >&2
# The control-plane manifests are running as processes already; without their images the kubelet would only
# retry pulls for them. A test pod takes their place.
in_host mv /etc/kubernetes/manifests /etc/kubernetes/manifests-run-as-processes
in_host mkdir -p /etc/kubernetes/manifests
in_host tee /etc/kubernetes/manifests/k2hk8s-hello.yaml >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: { name: hello, namespace: default }
spec:
  containers:
    - name: hello
      image: registry.k8s.io/k2hk8s/busybox:1
      imagePullPolicy: Never
      command: ["/bin/busybox", "sh", "-c", "echo hello from $(/bin/busybox hostname) $(/bin/busybox ip -4 -o addr show eth0 | /bin/busybox awk '{print $4}'); exec /bin/busybox sleep 3600"]
EOF
in_host $K/kubeadm init phase kubelet-start --config /etc/kubeadm.yaml 2>&1 | tail -3 >&2 || true
flags=$(in_host bash -c '. /var/lib/kubelet/kubeadm-flags.env; echo "$KUBELET_KUBEADM_ARGS"')
echo "kubelet $flags" >>"$W/commands.log"
# cgroupfs driver with cgroupRoot /k2hk8s: the kubelet shares the machine's cgroup tree, so keep its pods in a
# subtree of their own. The kubelet refuses a cgroupRoot that does not exist; cpuset children start empty.
for h in /sys/fs/cgroup/*/; do
  [[ "$h" == */unified/ ]] && continue
  mkdir -p "$h$CGROUP_ROOT"
  if [[ -f "${h}cpuset.cpus" ]]; then
    cat "${h}cpuset.cpus" >"$h$CGROUP_ROOT/cpuset.cpus"
    cat "${h}cpuset.mems" >"$h$CGROUP_ROOT/cpuset.mems"
  fi
done
for k in "${SYSCTLS[@]}"; do echo "$k = $(sysctl -n "$k")"; done >"$W/sysctl.saved"
in_host bash -c "setsid nohup $K/kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \
  --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml $flags \
  </dev/null >/var/log/kubelet.log 2>&1 &"
wait_for "kubelet /healthz" 120 in_host curl -fs http://127.0.0.1:10248/healthz || true
wait_for "node registered" 120 in_host $KC get node k2hk8s-probe || true
# Up to 1.33 this phase also annotates the Node object with its CRI socket, so it needs the registered node.
in_host $K/kubeadm init phase upload-config kubelet --config /etc/kubeadm.yaml >&2 || true
wait_for "node Ready" 120 in_host $KC wait --for=condition=Ready node/k2hk8s-probe --timeout=1s || true
in_host $KC get nodes -o wide >&2 || true
wait_for "static pod hello Running" 240 in_host bash -c "$KC get pod hello-k2hk8s-probe -o jsonpath='{.status.phase}' | grep -qx Running" || true
in_host $KC get pods -A -o wide >&2 || true
in_host $KC logs hello-k2hk8s-probe >&2 || true
in_host $KC exec hello-k2hk8s-probe -- /bin/busybox cat /proc/self/cgroup >&2 || true
for k in "${SYSCTLS[@]}"; do
  [[ "$(sysctl "$k")" == "$(grep "^$k =" "$W/sysctl.saved")" ]] || log "kubelet changed $(grep "^$k =" "$W/sysctl.saved") -> $(sysctl -n "$k") (restored by down)"
done
log "logs: $W/upper/var/log/*.log (host stays up; 'probe.sh $BIN down' removes it)"
