#!/usr/bin/env bash
# Build CoreDNS at one version with kubeadm's plugin set (lab/go/extras/coredns), for a Kubernetes version
# other than the lab's current one: kubeadm 1.33 deploys CoreDNS v1.12.0, while scripts/build-k8s-extras.sh builds
# the current version's 1.12.1. Same main package, another pinned module file: lab/go/extras/coredns-VERSION.mod
# (+ .sum), passed to go build as -modfile. Prints the bin directory on stdout (progress goes to stderr); a rerun
# after a finished build returns at once.
#
# Usage: scripts/build-coredns.sh VERSION          e.g. 1.12.0
#
# The cache key is "coredns-<v>_<hash>" under k8s/extras, the hash covering every input (the module file and its
# sums, the Go files, this script), so a changed input builds into a new directory.
#
# Environment: KUBEADM2HA_CACHE_DIR, KUBEADM2HA_BUILD_JOBS, KUBEADM2HA_BUILD_NICE as scripts/build-k8s-extras.sh.
set -euo pipefail

BINARIES=(coredns)

log() { printf 'build-coredns: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ $# -eq 1 ]] || die "usage: scripts/build-coredns.sh VERSION (e.g. 1.12.0)"
version="${1#v}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "expected a CoreDNS version like 1.12.0, got '$1'"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/lib/cache-build.sh"
extras="$repo/lab/go/extras"
modfile="coredns-$version.mod"
[[ -f "$extras/$modfile" && -f "$extras/coredns-$version.sum" ]] ||
  die "no pinned module for CoreDNS $version ($extras/$modfile and .sum; the current version is built by build-k8s-extras.sh)"

inputs_hash() {
  (
    cd "$extras"
    { printf '%s\n' "$modfile" "coredns-$version.sum"; find coredns -type f -name '*.go'; } | LC_ALL=C sort | xargs sha256sum
  )
  printf '%s  build-coredns.sh\n' "$(sha256sum <"${BASH_SOURCE[0]}" | cut -d' ' -f1)"
}
key="coredns-${version}_$(inputs_hash | sha256sum | cut -c1-12)"
cache_init "$(cache_root)/k8s/extras/$key"
cache_exit_if_complete

command -v go >/dev/null || die "Go is not on PATH; building CoreDNS $version needs Go (https://go.dev/dl)"
cache_lock "$key"

export GOWORK=off CGO_ENABLED=0 GOOS=linux
# -mod=readonly: the build must use exactly the committed sums, never quietly rewrite them.
export GOFLAGS="-mod=readonly -buildvcs=false"
unset GOARCH

jobs="${KUBEADM2HA_BUILD_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
niceness="${KUBEADM2HA_BUILD_NICE:-19}"
cache_tmp

# Upstream's flags, GitCommit from the proxy's record of the tag (as build-k8s-extras.sh does).
(cd "$extras" && go mod download -modfile="$modfile" github.com/coredns/coredns) || die "downloading CoreDNS $version failed"
info="$(go env GOMODCACHE)/cache/download/github.com/coredns/coredns/@v/v$version.info"
commit="$(sed -n 's/.*"Hash":"\([0-9a-f]\{7\}\)[0-9a-f]*".*/\1/p' "$info" 2>/dev/null || true)"
log "building $key with $(go env GOVERSION) (-p $jobs, nice $niceness)"
started=$SECONDS c0=$(child_cpu)
(cd "$extras" && nice -n "$niceness" go build -modfile="$modfile" -p "$jobs" -trimpath \
  -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$commit" -o "$tmp/coredns" ./coredns) ||
  die "go build of CoreDNS $version failed"

reported="$("$tmp/coredns" -version | sed -n 1p)"
[[ "$reported" == "CoreDNS-$version" ]] || die "coredns -version says '$reported', expected CoreDNS-$version"

log "$key built in $((SECONDS - started)) s wall, $(($(child_cpu) - c0)) s CPU: $bin"
cache_publish "coredns=$version" "go=$(go env GOVERSION)" "built=$(date -u +%FT%TZ)" "seconds=$((SECONDS - started))"
