#!/usr/bin/env bash
# Build containerd 2 (containerd, ctr, containerd-shim-runc-v2) from the Go module proxy, into a per-version cache
# outside the clone. Prints the bin directory on stdout (progress goes to stderr). A rerun after a finished build
# returns at once.
#
# Usage: scripts/build-containerd.sh [VERSION]     default: CONTAINERD2_VERSION below (e.g. 2.2.1 or v2.2.1)
#
# Why: Debian 12 ships containerd 1.6 (end of life), the lab runs it; Kubernetes 1.34 users run containerd 2, whose
# config is version 3 (test/activities/containerd2.test.ts starts this build with our config). containerd's release
# downloads are not reachable from our machines, the module proxy is. The build is `go install module@version`:
# exactly the dependency versions containerd's own go.mod names (it has no replace directives), no committed module.
#
# runc: containerd 2 calls the runc on PATH through its shim and checks no minimum version; 2.4.2's CI runs runc
# v1.5.2 (its script/setup/runc-version) and docs/RUNC.md recommends that or newer, Debian 12 has 1.1.5. The lab test
# runs no container, so no runc is built here (runc needs cgo for its nsenter, and libseccomp-dev for seccomp).
#
# Environment:
#   KUBEADM2HA_CACHE_DIR   cache root (default $XDG_CACHE_HOME/kubeadm2ha, else ~/.cache/kubeadm2ha), as src/paths.ts
#   KUBEADM2HA_BUILD_JOBS  go build -p (default: number of CPUs)
#   KUBEADM2HA_BUILD_NICE  nice level of the compiler (default 19: a cache warm-up must not starve tests or people)
set -euo pipefail

# The newest 2.x the module proxy served on 2026-12-03 (`go list -m -versions github.com/containerd/containerd/v2`).
# Must match CONTAINERD2_VERSION in test/activities/containerd2.test.ts.
CONTAINERD2_VERSION=2.4.2
MODULE=github.com/containerd/containerd/v2
BINARIES=(containerd ctr containerd-shim-runc-v2)

log() { printf 'build-containerd: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ $# -le 1 ]] || die "usage: scripts/build-containerd.sh [VERSION] (e.g. $CONTAINERD2_VERSION)"
version="${1:-$CONTAINERD2_VERSION}"
version="${version#v}"
[[ "$version" =~ ^2\.[0-9]+\.[0-9]+$ ]] || die "expected a containerd 2 version like $CONTAINERD2_VERSION, got '$1'"

source "$(dirname "${BASH_SOURCE[0]}")/lib/cache-build.sh"
cache_init "$(cache_root)/containerd/$version"
cache_exit_if_complete

command -v go >/dev/null || die "Go is not on PATH; building containerd $version needs Go (https://go.dev/dl)"
cache_lock "containerd $version"

# Pure Go, as upstream's static release: with cgo off the btrfs snapshotter (cgo only) is left out, which the lab
# does not use (overlayfs/native); seccomp profiles are generated in Go, no libseccomp is linked.
export GOWORK=off CGO_ENABLED=0 GOOS=linux
export GOFLAGS="-buildvcs=false"
# Downloads only from the module proxy: without "direct", a module the proxy lacks fails the build instead of being
# fetched from its origin's VCS (the build must not reach anything but the proxy).
proxies="$(go env GOPROXY | tr ',|' '\n\n' | grep -Ev '^(direct|off)?$' | paste -sd, || true)"
[[ -n "$proxies" ]] || die "GOPROXY ($(go env GOPROXY)) names no module proxy; containerd is built from one"
export GOPROXY="$proxies"
unset GOARCH # binaries for this machine's architecture; the cache path does not carry one

jobs="${KUBEADM2HA_BUILD_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
niceness="${KUBEADM2HA_BUILD_NICE:-19}"
cache_tmp

# Upstream's Makefile stamps the version, the package and the commit; the proxy gives no commit, so it stays empty.
ldflags="-s -w -X $MODULE/version.Version=v$version -X $MODULE/version.Package=github.com/containerd/containerd/v2"
log "building containerd $version with $(go env GOVERSION) (-p $jobs, nice $niceness, GOPROXY=$GOPROXY)"
started=$SECONDS c0=$(child_cpu)
# One go install for the three: they share most packages, and one invocation compiles each once.
GOBIN="$tmp" nice -n "$niceness" go install -p "$jobs" -trimpath -ldflags "$ldflags" \
  "$MODULE/cmd/containerd@v$version" "$MODULE/cmd/ctr@v$version" "$MODULE/cmd/containerd-shim-runc-v2@v$version" ||
  die "go install $MODULE/cmd/…@v$version failed"
log "  3 binaries: $((SECONDS - started)) s wall, $(($(child_cpu) - c0)) s CPU"

# Check the versions before publishing: a binary that reports another version is worse than no binary.
for b in containerd ctr; do
  reported="$("$tmp/$b" --version 2>&1)"
  [[ "$reported" == *" v$version"* ]] || die "$b --version says '$reported', expected v$version"
done
reported="$("$tmp/containerd-shim-runc-v2" -v 2>&1)"
[[ "$reported" == *"v$version"* ]] || die "containerd-shim-runc-v2 -v says '$reported', expected v$version"

log "containerd $version built in $((SECONDS - started)) s: $bin"
cache_publish "containerd=$version" "go=$(go env GOVERSION)" "built=$(date -u +%FT%TZ)" \
  "seconds=$((SECONDS - started))"
