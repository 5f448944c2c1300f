#!/usr/bin/env bash
# Build the Debian root filesystem that systemd-nspawn lab hosts boot (lab/nspawn), once, into a cache outside
# the clone keyed by everything that shapes it (package list, suite, hooks): a changed list is a new directory, never
# a stale one. Prints the root fs directory on stdout (progress goes to stderr). A rerun after a finished build
# returns at once; concurrent callers wait on the build's flock (scripts/lib/cache-build.sh).
#
# Hosts boot it read-only with an overlay each (systemd-nspawn --overlay), so it holds nothing per host: no SSH host
# keys, an empty machine-id, no hostname. Those are written into each host's upper dir by lab/nspawn/host-files.ts.
#
# Environment:
#   KUBEADM2HA_CACHE_DIR   cache root (default $XDG_CACHE_HOME/kubeadm2ha, else ~/.cache/kubeadm2ha), as src/paths.ts
#   KUBEADM2HA_DEBIAN_MIRROR  apt mirror for mmdebstrap (default: the first deb.debian.org-style URI apt uses here)
set -euo pipefail

SUITE=bookworm
# What the nspawn tests run as real systemd units (etcd, keepalived, haproxy, containerd), what the workflows
# expect on a bare Debian host (sudo, python3 for parity with Ansible hosts, apt), and what kubeadm's preflight
# and the kubelet look for (conntrack, iptables, ethtool, socat, kmod).
PACKAGES=(systemd systemd-sysv dbus iproute2 openssh-server sudo python3 procps iputils-ping kmod ca-certificates
  curl etcd-server etcd-client keepalived haproxy containerd runc conntrack iptables ethtool socat)
# The rootfs itself is the "binary" the cache checks: these must exist and be executable in it.
BINARIES=(usr/lib/systemd/systemd usr/sbin/sshd usr/bin/etcd usr/sbin/keepalived usr/sbin/haproxy usr/bin/containerd)

# Identity a host must not share with another one; keys and machine-id come from each host's overlay. The packages'
# own units stay as Debian installs them (etcd, haproxy, containerd enabled), as on a real host after apt-get.
HOOK='rm -f "$1"/etc/ssh/ssh_host_*; : >"$1"/etc/machine-id; rm -f "$1"/etc/hostname "$1"/var/lib/dbus/machine-id'

log() { printf 'build-nspawn-rootfs: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

source "$(dirname "${BASH_SOURCE[0]}")/lib/cache-build.sh"
key="$(printf '%s\n' "$SUITE" "${PACKAGES[@]}" "$HOOK" | sha256sum | cut -c1-16)"
cache_init "$(cache_root)/nspawn-rootfs-$key"
bin="$dir/rootfs"
cache_exit_if_complete

command -v mmdebstrap >/dev/null || die "mmdebstrap is not on PATH: run scripts/setup.sh (apt-get install mmdebstrap)"
[[ "$(id -u)" == 0 ]] || die "building the root fs needs root (mmdebstrap --mode=root keeps file owners)"
cache_lock "the nspawn root fs ($key)"
cache_tmp

mirror="${KUBEADM2HA_DEBIAN_MIRROR:-$(sed -n 's/^URIs: \(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)}"
mirror="${mirror:-http://deb.debian.org/debian}"
log "mmdebstrap $SUITE from $mirror into $dir (${#PACKAGES[@]} packages, about a minute)"
start=$SECONDS
include="$(IFS=,; echo "${PACKAGES[*]}")"
mmdebstrap --mode=root --variant=minbase --include="$include" --customize-hook="$HOOK" \
  "$SUITE" "$tmp" "$mirror" >&2
log "built in $((SECONDS - start)) s ($(child_cpu) s CPU), $(du -sh "$tmp" | cut -f1)"
cache_publish "suite=$SUITE" "packages=${PACKAGES[*]}" "built=$(date -u +%FT%TZ)"
