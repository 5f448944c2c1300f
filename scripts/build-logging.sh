#!/usr/bin/env bash
# Build the `logging` addon's binaries from the Go module proxy, into a cache outside the clone:
#   victoria-logs  github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs (the log store)
#   vlagent        github.com/VictoriaMetrics/VictoriaLogs/app/vlagent       (the collector on every node)
# at the version lab/go/logging pins. Prints the bin directory on stdout (progress goes to stderr). A rerun after a
# finished build returns at once.
#
# Usage: scripts/build-logging.sh
#
# The cache key is "victorialogs-<version>_<hash>", the hash covering every input (the pinned module's go.mod and
# go.sum, and this script), so a changed input builds into a new directory and never mixes with an old build.
#
# Environment:
#   KUBEADM2HA_CACHE_DIR   cache root (default $XDG_CACHE_HOME/kubeadm2ha, else ~/.cache/kubeadm2ha), as src/paths.ts
#   KUBEADM2HA_BUILD_JOBS  go build -p (default: number of CPUs)
#   KUBEADM2HA_BUILD_NICE  nice level of the compiler (default 19: a cache warm-up must not starve tests or people)
set -euo pipefail

# Must match VICTORIALOGS_VERSION in src/templates/addons/logging.ts and the pin in lab/go/logging/go.mod.
VICTORIALOGS_VERSION=1.52.2
BINARIES=(victoria-logs vlagent)

log() { printf 'build-logging: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ $# -eq 0 ]] || die "usage: scripts/build-logging.sh (no arguments)"
command -v go >/dev/null || die "Go is not on PATH; building VictoriaLogs needs Go (https://go.dev/dl)"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/lib/cache-build.sh"
mod="$repo/lab/go/logging"
[[ -f "$mod/go.mod" ]] || die "$mod/go.mod is missing"

# CGO off: VictoriaMetrics' zstd falls back to its pure-Go encoder, so the binaries are static (upstream's "pure"
# build, what its scratch-based images hold).
export GOWORK=off CGO_ENABLED=0 GOOS=linux
# -mod=readonly: the build must use exactly the committed go.sum, never quietly rewrite it.
export GOFLAGS="-mod=readonly -buildvcs=false"
# Only the module proxy: a module it lacks fails the build instead of being fetched from its origin's VCS.
proxies="$(go env GOPROXY | tr ',|' '\n\n' | grep -Ev '^(direct|off)?$' | paste -sd, || true)"
[[ -n "$proxies" ]] || die "GOPROXY ($(go env GOPROXY)) names no module proxy; VictoriaLogs is built from one"
export GOPROXY="$proxies"
unset GOARCH # a binary for this machine's architecture; the cache path does not carry one

module=github.com/VictoriaMetrics/VictoriaLogs
pinned="$(cd "$mod" && go list -m -f '{{.Version}}' "$module")" ||
  die "cannot read the VictoriaLogs version $mod/go.mod pins"
[[ "$pinned" == "v$VICTORIALOGS_VERSION" ]] ||
  die "$mod/go.mod pins VictoriaLogs $pinned, this script builds v$VICTORIALOGS_VERSION"

inputs_hash() {
  (cd "$mod" && sha256sum go.mod go.sum)
  printf '%s  build-logging.sh\n' "$(sha256sum <"${BASH_SOURCE[0]}" | cut -d' ' -f1)"
}
hash="$(inputs_hash | sha256sum | cut -c1-12)"
key="victorialogs-${VICTORIALOGS_VERSION}_$hash"

cache_init "$(cache_root)/addons/$key"
cache_exit_if_complete
cache_lock "$key"

jobs="${KUBEADM2HA_BUILD_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
niceness="${KUBEADM2HA_BUILD_NICE:-19}"
cache_tmp

log "building $key with $(go env GOVERSION) (-p $jobs, nice $niceness, GOPROXY=$GOPROXY)"
started=$SECONDS
t0=$SECONDS c0=$(child_cpu)
(cd "$mod" && go mod download "$module") || die "downloading $module failed"
log "  download: $((SECONDS - t0)) s wall"
# Upstream's Makefile stamps lib/buildinfo.Version (what --version prints) with <app>-<date>-<tag>; -s -w as
# upstream's release builds: no symbol table.
for b in "${BINARIES[@]}"; do
  t0=$SECONDS c0=$(child_cpu)
  (cd "$mod" && nice -n "$niceness" go build -p "$jobs" -trimpath \
    -ldflags "-s -w -X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=$b-v$VICTORIALOGS_VERSION" \
    -o "$tmp/$b" "$module/app/$b") || die "go build of $b v$VICTORIALOGS_VERSION failed"
  log "  $b: $((SECONDS - t0)) s wall, $(($(child_cpu) - c0)) s CPU, $(($(stat -c %s "$tmp/$b") / 1024)) KiB"
  # Check the version before publishing: a binary that reports another version is worse than no binary.
  reported="$("$tmp/$b" -version 2>&1 | head -n1)"
  [[ "$reported" == *"v$VICTORIALOGS_VERSION"* ]] || die "$b -version says '$reported', expected v$VICTORIALOGS_VERSION"
done

log "$key built in $((SECONDS - started)) s: $bin"
cache_publish "victorialogs=$VICTORIALOGS_VERSION" "go=$(go env GOVERSION)" "built=$(date -u +%FT%TZ)" \
  "seconds=$((SECONDS - started))"
