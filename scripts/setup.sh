#!/usr/bin/env bash
# Installs everything kubeadm2ha's demo and tests need on a fresh Debian 12 machine, and nothing twice:
# the lab's Debian packages, the npm dependencies, and the pinned Temporal CLI (built from the Go module proxy
# into a per-version cache outside the clone). Safe to run again; fast when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup: the lab needs root (network namespaces, mounts); run as root or in a disposable VM" >&2
  exit 2
fi

pkgs=(openssh-server openssh-client etcd-server etcd-client keepalived nginx libnginx-mod-stream haproxy skopeo
  docker-registry containerd runc ansible-core iproute2 iputils-ping busybox-static tcpdump openssl procps sudo
  containernetworking-plugins iptables nftables curl gpg gpg-agent python3 dpkg-dev gcc libc6-dev file
  systemd-container mmdebstrap chromium docker-compose postgresql)
# chromium: the headless browser test of the Web UI (test/e2e/web-ui.test.ts); postgresql: the production topology
# test (a private cluster per run, never the system one); docker-compose: checks docker-compose.yml (no daemon).
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  # Keep apt from starting sshd, nginx, etcd... in the root namespace: the lab starts its own, per host.
  if [ ! -x /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# Builds the pinned Temporal CLI once per version (about 3 minutes cold on 2 cores), then reuses it.
npx tsx scripts/ensure-temporal-cli.ts >/dev/null
