#!/usr/bin/env bash
# Build the Kubernetes commands kubeadm2ha needs (kubeadm, kubelet, kubectl, kube-apiserver, kube-controller-manager,
# kube-scheduler, kube-proxy) for one version from the Go module proxy, into a per-version cache outside the clone.
# Prints the bin directory on stdout (progress goes to stderr). A rerun after a finished build returns at once.
#
# Usage: scripts/build-k8s.sh VERSION          e.g. 1.34.12 or v1.34.12
#
# Why from source: kubeadm and kubelet are not packaged for Debian 12 and release downloads are not reachable from
# our machines; the module proxy is. The module that pins the version lives in lab/go/v<VERSION>/ (made by
# lab/go/pin-version.sh, committed with its go.sum). For a version without one, the module is generated into
# the cache first, trusting what the proxy serves on that first download; the log says so.
#
# Environment:
#   KUBEADM2HA_CACHE_DIR   cache root (default $XDG_CACHE_HOME/kubeadm2ha, else ~/.cache/kubeadm2ha), as src/paths.ts
#   KUBEADM2HA_BUILD_JOBS  go build -p (default: number of CPUs)
#   KUBEADM2HA_BUILD_NICE  nice level of the compiler (default 19: a cache warm-up must not starve tests or people)
set -euo pipefail

BINARIES=(kubectl kubeadm kube-scheduler kube-proxy kube-controller-manager kube-apiserver kubelet)

log() { printf 'build-k8s: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ $# -eq 1 ]] || die "usage: scripts/build-k8s.sh VERSION (e.g. 1.34.12)"
version="${1#v}"
[[ "$version" =~ ^1\.([0-9]+)\.([0-9]+)$ ]] || die "expected a Kubernetes version like 1.34.12, got '$1'"
minor="${BASH_REMATCH[1]}"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/lib/cache-build.sh"
cache_init "$(cache_root)/k8s/$version"
cache_exit_if_complete

command -v go >/dev/null || die "Go is not on PATH; building Kubernetes $version needs Go (https://go.dev/dl)"
cache_lock "Kubernetes $version"

export GOWORK=off CGO_ENABLED=0 GOOS=linux
# -mod=readonly: the build must use exactly the committed go.sum, never quietly rewrite it.
export GOFLAGS="-mod=readonly -buildvcs=false"
unset GOARCH # binaries for this machine's architecture; the cache path does not carry one

src="$repo/lab/go/v$version"
if [[ ! -f "$src/go.mod" ]]; then
  src="$dir/src"
  log "no pinned module for $version in lab/go; generating one in $src (checksums trusted on first download)"
  "$repo/lab/go/pin-version.sh" "$version" "$src"
fi

# Stamp the version the way the Kubernetes release build does (hack/lib/version.sh). Unstamped binaries say
# v0.0.0-master and kubeadm then refuses to pick images or to upgrade. buildDate is the tag's time from the proxy,
# so two builds of one version are identical. gitCommit stays empty: the proxy does not tell us the commit.
build_date="$(cd "$src" && go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=v$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  [[ -n "$build_date" ]] && ldflags+=" -X $pkg.buildDate=$build_date"
done

# The tags of the upstream release build (hack/lib/golang.sh): notest drops fuzz helpers, grpcnotrace drops
# golang.org/x/net/trace from gRPC. CGO_ENABLED=0 everywhere (upstream links only kubelet with cgo): one static
# binary runs on any host's libc.
tags=selinux,notest,grpcnotrace
jobs="${KUBEADM2HA_BUILD_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
niceness="${KUBEADM2HA_BUILD_NICE:-19}"
cache_tmp

log "building Kubernetes $version with $(go env GOVERSION) (-p $jobs, nice $niceness) from $src"
started=$SECONDS
# One binary at a time: each later one reuses the packages the earlier ones compiled, and the per-binary times in
# the log show what each costs.
for b in "${BINARIES[@]}"; do
  t0=$SECONDS c0=$(child_cpu)
  (cd "$src" && nice -n "$niceness" go build -p "$jobs" -trimpath -tags "$tags" -ldflags "$ldflags" -o "$tmp/$b" "k8s.io/kubernetes/cmd/$b") ||
    die "go build k8s.io/kubernetes/cmd/$b@v$version failed"
  log "  $b: $((SECONDS - t0)) s wall, $(($(child_cpu) - c0)) s CPU, $(($(stat -c %s "$tmp/$b") / 1048576)) MiB"
done

# Check the stamp before publishing: a binary that reports another version is worse than no binary.
reported="$("$tmp/kubeadm" version -o short)"
[[ "$reported" == "v$version" ]] || die "kubeadm reports '$reported', expected v$version"

log "Kubernetes $version built in $((SECONDS - started)) s: $bin"
cache_publish "version=v$version" "go=$(go env GOVERSION)" "built=$(date -u +%FT%TZ)" "seconds=$((SECONDS - started))"
