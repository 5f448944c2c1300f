#!/usr/bin/env bash
# Builds what the real-Kubernetes lab needs and the cache lacks (scripts/test.sh runs it before the tests, so a
# cold build happens here with its progress on stderr, not inside a test's timeout): the Kubernetes binaries of
# the lab's current version and of the previous one (upgrade tests go from one to the other), etcd, the pause,
# CoreDNS and test-pod binaries, the CoreDNS and stacked etcd the previous kubeadm asks for (lab/go/extras/coredns-*.mod,
# lab/go/etcd-*), flannel (flanneld and our CNI plugin) and
# metrics-server (the metrics addon). Each build script keys its cache by version, locks it,
# and returns at once when everything is there.
# Images and .deb packages are made from these by the lab itself (seconds, cached too).
#
# On two idle cores a cold run takes about 25 minutes for the current version and 12–18 more for the previous one
# (see lab/k8s/README.md); a warm one well under a second.
# KUBEADM2HA_SKIP_K8S=1 skips it (the real-Kubernetes tests then build on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${KUBEADM2HA_SKIP_K8S:-}" = 1 ] && exit 0
version=$(sed -n "s/.*current: '\([0-9.]*\)'.*/\1/p" lab/k8s-binaries.ts)
previous=$(sed -n "s/.*previous: '\([0-9.]*\)'.*/\1/p" lab/k8s-binaries.ts)
etcd_version=$(sed -n "s/.*ETCD_LAB_VERSION = '\([0-9.]*\)'.*/\1/p" lab/k8s/etcd-binaries.ts)
t0=$SECONDS
bash scripts/build-k8s.sh "$version" >/dev/null
bash scripts/build-etcd.sh "$etcd_version" >/dev/null
bash scripts/build-k8s-extras.sh >/dev/null
bash scripts/build-flannel.sh >/dev/null
# The previous version (upgrade tests): ~9 min cold on two idle cores, an hour at load 30 (lab/k8s/README.md).
bash scripts/build-k8s.sh "$previous" >/dev/null
others=()
for mod in lab/go/extras/coredns-*.mod; do
  v=${mod##*/coredns-} && v=${v%.mod}
  bash scripts/build-coredns.sh "$v" >/dev/null && others+=("CoreDNS $v")
done
for pin in lab/go/etcd-*/release.env; do
  v=$(sed -n 's/^ETCD_VERSION=//p' "$pin")
  bash scripts/build-etcd.sh "$v" >/dev/null && others+=("etcd $v")
done
# containerd 2 (test/activities/containerd2.test.ts runs our config on it): 156 CPU-s cold (826 s wall at load 22,
# nice 19), 576 MB of modules downloaded.
bash scripts/build-containerd.sh >/dev/null
# The `metrics` addon's image (test/workflows/addons.test.ts runs it for real): 261 CPU-s cold.
bash scripts/build-metrics-server.sh >/dev/null
# The `logging` addon's images (VictoriaLogs + vlagent, test/workflows/addons.test.ts): 142 s wall / 44 CPU-s cold.
bash scripts/build-logging.sh >/dev/null
# The `monitoring` addon's five images (test/workflows/addons.test.ts runs them for real): 555 CPU-s cold (operator
# 235, Prometheus 210, Alertmanager 79, node_exporter 25, config reloader 4), 1.9 GB of modules downloaded.
bash scripts/build-monitoring.sh >/dev/null
echo "setup-k8s-lab: Kubernetes $version and $previous, etcd $etcd_version, lab extras, flannel, containerd 2, metrics-server, VictoriaLogs, monitoring$(printf ', %s' "${others[@]}") ready ($((SECONDS - t0)) s)" >&2
