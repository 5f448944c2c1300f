#!/usr/bin/env bash
# Build metrics-server (the `metrics` addon) from the Go module proxy, into a cache outside the clone:
#   metrics-server  sigs.k8s.io/metrics-server/cmd/metrics-server at the version lab/go/metrics-server pins
# Prints the bin directory on stdout (progress goes to stderr). A rerun after a finished build returns at once.
#
# Usage: scripts/build-metrics-server.sh
#
# The cache key is "metrics-server-<version>_<hash>", the hash covering every input (the pinned module's go.mod and
# go.sum, and this script), so a changed input builds into a new directory and never mixes with an old build.
#
# Environment:
#   KUBEADM2HA_CACHE_DIR   cache root (default $XDG_CACHE_HOME/kubeadm2ha, else ~/.cache/kubeadm2ha), as src/paths.ts
#   KUBEADM2HA_BUILD_JOBS  go build -p (default: number of CPUs)
#   KUBEADM2HA_BUILD_NICE  nice level of the compiler (default 19: a cache warm-up must not starve tests or people)
set -euo pipefail

# Must match METRICS_SERVER_VERSION in src/templates/addons/metrics-server.ts and the pin in
# lab/go/metrics-server/go.mod.
METRICS_SERVER_VERSION=0.9.0
BINARIES=(metrics-server)

log() { printf 'build-metrics-server: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ $# -eq 0 ]] || die "usage: scripts/build-metrics-server.sh (no arguments)"
command -v go >/dev/null || die "Go is not on PATH; building metrics-server needs Go (https://go.dev/dl)"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/lib/cache-build.sh"
mod="$repo/lab/go/metrics-server"
[[ -f "$mod/go.mod" ]] || die "$mod/go.mod is missing"

export GOWORK=off CGO_ENABLED=0 GOOS=linux
# -mod=readonly: the build must use exactly the committed go.sum, never quietly rewrite it.
export GOFLAGS="-mod=readonly -buildvcs=false"
# Only the module proxy: a module it lacks fails the build instead of being fetched from its origin's VCS.
proxies="$(go env GOPROXY | tr ',|' '\n\n' | grep -Ev '^(direct|off)?$' | paste -sd, || true)"
[[ -n "$proxies" ]] || die "GOPROXY ($(go env GOPROXY)) names no module proxy; metrics-server is built from one"
export GOPROXY="$proxies"
unset GOARCH # a binary for this machine's architecture; the cache path does not carry one

pinned="$(cd "$mod" && go list -m -f '{{.Version}}' sigs.k8s.io/metrics-server)" ||
  die "cannot read the metrics-server version $mod/go.mod pins"
[[ "$pinned" == "v$METRICS_SERVER_VERSION" ]] ||
  die "$mod/go.mod pins metrics-server $pinned, this script builds v$METRICS_SERVER_VERSION"

inputs_hash() {
  (cd "$mod" && sha256sum go.mod go.sum)
  printf '%s  build-metrics-server.sh\n' "$(sha256sum <"${BASH_SOURCE[0]}" | cut -d' ' -f1)"
}
hash="$(inputs_hash | sha256sum | cut -c1-12)"
key="metrics-server-${METRICS_SERVER_VERSION}_$hash"

cache_init "$(cache_root)/addons/$key"
cache_exit_if_complete
cache_lock "$key"

jobs="${KUBEADM2HA_BUILD_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
niceness="${KUBEADM2HA_BUILD_NICE:-19}"
cache_tmp

log "building $key with $(go env GOVERSION) (-p $jobs, nice $niceness, GOPROXY=$GOPROXY)"
started=$SECONDS
t0=$SECONDS c0=$(child_cpu)
(cd "$mod" && go mod download sigs.k8s.io/metrics-server) || die "downloading sigs.k8s.io/metrics-server failed"
# The commit of the tag as the proxy records it (Origin in the .info file); empty when the proxy omits it.
info="$(go env GOMODCACHE)/cache/download/sigs.k8s.io/metrics-server/@v/v$METRICS_SERVER_VERSION.info"
commit="$(sed -n 's/.*"Hash":"\([0-9a-f]\{40\}\)".*/\1/p' "$info" 2>/dev/null || true)"
# Upstream's Makefile: CGO_ENABLED=0, -trimpath, -ldflags "-w -X k8s.io/client-go/pkg/version.gitVersion=<tag> …"
# (it stamps client-go's version package, which `metrics-server --version` prints). -s as well: no symbol table.
pkg=k8s.io/client-go/pkg/version
(cd "$mod" && nice -n "$niceness" go build -p "$jobs" -trimpath \
  -ldflags "-s -w -X $pkg.gitVersion=v$METRICS_SERVER_VERSION -X $pkg.gitCommit=$commit" \
  -o "$tmp/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server) ||
  die "go build of metrics-server v$METRICS_SERVER_VERSION failed"
log "  metrics-server: $((SECONDS - t0)) s wall, $(($(child_cpu) - c0)) s CPU, $(($(stat -c %s "$tmp/metrics-server") / 1024)) KiB"

# Check the version before publishing: a binary that reports another version is worse than no binary.
reported="$("$tmp/metrics-server" --version 2>&1 | head -n1)"
[[ "$reported" == *"v$METRICS_SERVER_VERSION"* ]] ||
  die "metrics-server --version says '$reported', expected v$METRICS_SERVER_VERSION"

log "$key built in $((SECONDS - started)) s: $bin"
cache_publish "metrics-server=$METRICS_SERVER_VERSION" "go=$(go env GOVERSION)" "built=$(date -u +%FT%TZ)" \
  "seconds=$((SECONDS - started))"
