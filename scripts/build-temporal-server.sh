#!/usr/bin/env bash
# Build the stock Temporal server (`temporal-server`) and its SQL schema tool (`temporal-sql-tool`) from the Go
# module proxy, into a per-version cache outside the clone. Prints the bin directory on stdout (progress on stderr).
# A rerun after a finished build returns at once.
#
# Usage: scripts/build-temporal-server.sh [VERSION]     default: the server our pinned Temporal CLI embeds
#
# Why: the production topology (a Temporal server on PostgreSQL, several workers; test/e2e/postgres-topology.test.ts)
# must be tested without Docker. go.temporal.io/server has no replace directives, so `go install …@vX` works from
# the proxy, and the CLI's build already downloaded and compiled most of the same module graph (same version).
#
# Environment: KUBEADM2HA_CACHE_DIR, KUBEADM2HA_BUILD_JOBS, KUBEADM2HA_BUILD_NICE (as scripts/build-etcd.sh).
set -euo pipefail

BINARIES=(temporal-server temporal-sql-tool)

log() { printf 'build-temporal-server: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# The server inside Temporal CLI 1.5.1 (src/temporal/cli-binary.ts): sharing it shares the Go build cache.
version="${1:-1.29.1}"
version="${version#v}"
[[ "$version" =~ ^1\.[0-9]+\.[0-9]+$ ]] || die "expected a Temporal server version like 1.29.1, got '$version'"

source "$(dirname "${BASH_SOURCE[0]}")/lib/cache-build.sh"
cache_init "$(cache_root)/temporal-server/$version"
cache_exit_if_complete

command -v go >/dev/null || die "Go is not on PATH; building Temporal server $version needs Go (https://go.dev/dl)"
cache_lock "Temporal server $version"

export GOWORK=off CGO_ENABLED=0 GOFLAGS="-buildvcs=false"
jobs="${KUBEADM2HA_BUILD_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
niceness="${KUBEADM2HA_BUILD_NICE:-19}"
cache_tmp

declare -A pkgs=([temporal-server]=cmd/server [temporal-sql-tool]=cmd/tools/sql)
started=$SECONDS
log "building Temporal server $version with $(go env GOVERSION) (-p $jobs, nice $niceness)"
for b in "${BINARIES[@]}"; do
  t0=$SECONDS c0=$(child_cpu)
  mkdir -p "$tmp/gobin"
  GOBIN="$tmp/gobin" nice -n "$niceness" go install -p "$jobs" -trimpath -ldflags "-s -w" \
    "go.temporal.io/server/${pkgs[$b]}@v$version" || die "go install go.temporal.io/server/${pkgs[$b]}@v$version failed"
  # go install names the binary after the package directory (server, sql).
  mv "$tmp/gobin/$(basename "${pkgs[$b]}")" "$tmp/$b"
  log "  $b: $((SECONDS - t0)) s wall, $(($(child_cpu) - c0)) s CPU, $(($(stat -c %s "$tmp/$b") / 1048576)) MiB"
done
rmdir "$tmp/gobin"

# Both answer --version with the server version; a binary that reports another one is worse than none.
for b in "${BINARIES[@]}"; do
  reported="$("$tmp/$b" --version 2>&1 || true)"
  grep -q "$version" <<<"$reported" || die "$b reports '${reported%%$'\n'*}', expected $version"
done

log "Temporal server $version built in $((SECONDS - started)) s: $bin"
cache_publish "version=$version" "go=$(go env GOVERSION)" "built=$(date -u +%FT%TZ)" \
  "seconds=$((SECONDS - started))" "cpu_seconds=$(child_cpu)" "load=$(cut -d' ' -f1-3 /proc/loadavg)"
