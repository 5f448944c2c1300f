#!/usr/bin/env bash
# Build the `monitoring` addon's binaries from the Go module proxy, into a cache outside the clone:
#   operator, prometheus-config-reloader   github.com/prometheus-operator/prometheus-operator  (cmd/…)
#   prometheus                             github.com/prometheus/prometheus (cmd/prometheus)
#   alertmanager                           github.com/prometheus/alertmanager (cmd/alertmanager)
#   node_exporter                          github.com/prometheus/node_exporter
# Prints the bin directory on stdout (progress goes to stderr). A rerun after a finished build returns at once.
#
# Usage: scripts/build-monitoring.sh
#
# Each binary is built inside its own upstream module (a copy of what the proxy serves), with exactly upstream's
# go.mod and go.sum. prometheus-operator's go.mod replaces its pkg/apis/monitoring and pkg/client submodules by
# their directories, which a module zip leaves out (nested modules): the build puts the submodules' own zips of the
# same tag there. (0.93.1: the newest release whose three modules the proxy here serves; it lacks pkg/client 0.94.x.)
# Prometheus is built with `remove_all_sd,enable_kubernetes_sd` (plugins/plugin_*.go): only the Kubernetes service
# discovery the operator's configs use (static targets need none), which also leaves out the cloud SDKs' modules;
# and without `builtinassets`, so its web UI (built by npm upstream) is not embedded — the HTTP API, which the
# operator and our tests use, is all there. Alertmanager embeds ui/app/dist, which upstream builds with npm (elm
# and mantine) and which its module zip lacks: this build writes a one-page placeholder there (the API is all there).
#
# The cache key carries the versions and a hash of this script, so a changed input builds into a new directory.
#
# Environment:
#   KUBEADM2HA_CACHE_DIR   cache root (default $XDG_CACHE_HOME/kubeadm2ha, else ~/.cache/kubeadm2ha), as src/paths.ts
#   KUBEADM2HA_BUILD_JOBS  go build -p (default: number of CPUs)
#   KUBEADM2HA_BUILD_NICE  nice level of the compiler (default 19: a cache warm-up must not starve tests or people)
set -euo pipefail

# Must match src/templates/addons/monitoring-images.ts.
OPERATOR_VERSION=0.93.1
PROMETHEUS_VERSION=3.16.0 # module version v0.316.0 (Prometheus 3.x modules are tagged v0.3xx.y)
ALERTMANAGER_VERSION=0.35.0
NODE_EXPORTER_VERSION=1.12.1
BINARIES=(operator prometheus-config-reloader prometheus alertmanager node_exporter)

log() { printf 'build-monitoring: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ $# -eq 0 ]] || die "usage: scripts/build-monitoring.sh (no arguments)"
command -v go >/dev/null || die "Go is not on PATH; building the monitoring addon needs Go (https://go.dev/dl)"

source "$(dirname "${BASH_SOURCE[0]}")/lib/cache-build.sh"

export GOWORK=off CGO_ENABLED=0 GOOS=linux
# -mod=readonly: the build must use exactly upstream's go.sum, never quietly rewrite it.
export GOFLAGS="-mod=readonly -buildvcs=false -modcacherw"
# Only the module proxy: a module it lacks fails the build instead of being fetched from its origin's VCS.
proxies="$(go env GOPROXY | tr ',|' '\n\n' | grep -Ev '^(direct|off)?$' | paste -sd, || true)"
[[ -n "$proxies" ]] || die "GOPROXY ($(go env GOPROXY)) names no module proxy; the monitoring addon is built from one"
export GOPROXY="$proxies"
unset GOARCH # a binary for this machine's architecture; the cache path does not carry one

hash="$(sha256sum <"${BASH_SOURCE[0]}" | cut -c1-12)"
key="monitoring-${OPERATOR_VERSION}-${PROMETHEUS_VERSION}-${ALERTMANAGER_VERSION}-${NODE_EXPORTER_VERSION}_$hash"

cache_init "$(cache_root)/addons/$key"
cache_exit_if_complete
cache_lock "$key"

jobs="${KUBEADM2HA_BUILD_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
niceness="${KUBEADM2HA_BUILD_NICE:-19}"
cache_tmp

log "building $key with $(go env GOVERSION) (-p $jobs, nice $niceness, GOPROXY=$GOPROXY)"
started=$SECONDS
commit="" # set by fetch_module

# fetch_module MODULE VERSION: a writable copy of the module's source in $tmp/src/<last path element>; sets $src
# and $commit (the tag's commit as the proxy records it, empty when it omits it).
fetch_module() {
  local module=$1 version=$2 json dir info
  json="$(cd "$tmp" && go mod download -json "$module@$version")" || die "downloading $module@$version failed"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")"
  info="$(sed -n 's/^[[:space:]]*"Info": "\(.*\)",$/\1/p' <<<"$json")"
  [[ -d "$dir" ]] || die "go mod download named no directory for $module@$version"
  commit="$(sed -n 's/.*"Hash":"\([0-9a-f]\{40\}\)".*/\1/p' "$info" 2>/dev/null || true)"
  src="$tmp/src/${module##*/}"
  mkdir -p "$tmp/src"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
}

# The version stamp every Prometheus project's Makefile sets (prometheus/common/version).
version_ldflags() {
  local v=github.com/prometheus/common/version
  printf '%s' "-s -w -X $v.Version=$1 -X $v.Revision=$commit -X $v.Branch=HEAD -X $v.BuildUser=kubeadm2ha"
}

# build NAME PACKAGE VERSION [go build flags…]: builds $src/PACKAGE into $tmp/NAME and logs what it cost.
build() {
  local name=$1 pkg=$2 version=$3 t0=$SECONDS c0
  shift 3
  c0=$(child_cpu)
  (cd "$src" && nice -n "$niceness" go build -p "$jobs" -trimpath -ldflags "$(version_ldflags "$version")" "$@" \
    -o "$tmp/$name" "$pkg") || die "go build of $name $version failed"
  log "  $name $version: $((SECONDS - t0)) s wall, $(($(child_cpu) - c0)) s CPU, $(($(stat -c %s "$tmp/$name") / 1024)) KiB"
}

fetch_module github.com/prometheus-operator/prometheus-operator "v$OPERATOR_VERSION"
operator_src=$src
for sub in pkg/apis/monitoring pkg/client; do
  fetch_module "github.com/prometheus-operator/prometheus-operator/$sub" "v$OPERATOR_VERSION"
  rm -rf "${operator_src:?}/$sub" && mkdir -p "$(dirname "$operator_src/$sub")"
  mv "$src" "$operator_src/$sub"
done
src=$operator_src
build operator ./cmd/operator "$OPERATOR_VERSION"
build prometheus-config-reloader ./cmd/prometheus-config-reloader "$OPERATOR_VERSION"

fetch_module github.com/prometheus/node_exporter "v$NODE_EXPORTER_VERSION"
build node_exporter . "$NODE_EXPORTER_VERSION" -tags netgo

fetch_module github.com/prometheus/alertmanager "v$ALERTMANAGER_VERSION"
for ui in elm mantine; do
  mkdir -p "$src/ui/app/dist/$ui"
  printf '<!doctype html><title>Alertmanager</title><p>This build of Alertmanager %s has no web UI (it needs npm); %s\n' \
    "$ALERTMANAGER_VERSION" 'the API is under /api/v2.' >"$src/ui/app/dist/$ui/index.html"
done
build alertmanager ./cmd/alertmanager "$ALERTMANAGER_VERSION" -tags netgo

fetch_module github.com/prometheus/prometheus "v0.$((${PROMETHEUS_VERSION%%.*} * 100 + $(cut -d. -f2 <<<"$PROMETHEUS_VERSION"))).$(cut -d. -f3 <<<"$PROMETHEUS_VERSION")"
build prometheus ./cmd/prometheus "$PROMETHEUS_VERSION" -tags netgo,remove_all_sd,enable_kubernetes_sd

# Check the versions before publishing: a binary that reports another version is worse than no binary.
check_version() {
  local name=$1 want=$2 reported
  reported="$("$tmp/$name" --version 2>&1 | head -n1)"
  [[ "$reported" == *"$want"* ]] || die "$name --version says '$reported', expected $want"
}
check_version operator "$OPERATOR_VERSION"
check_version prometheus-config-reloader "$OPERATOR_VERSION"
check_version prometheus "$PROMETHEUS_VERSION"
check_version alertmanager "$ALERTMANAGER_VERSION"
check_version node_exporter "$NODE_EXPORTER_VERSION"
rm -rf "$tmp/src"

log "$key built in $((SECONDS - started)) s, $(($(child_cpu))) s CPU: $bin"
cache_publish "prometheus-operator=$OPERATOR_VERSION" "prometheus=$PROMETHEUS_VERSION" \
  "alertmanager=$ALERTMANAGER_VERSION" "node_exporter=$NODE_EXPORTER_VERSION" "go=$(go env GOVERSION)" \
  "built=$(date -u +%FT%TZ)" "seconds=$((SECONDS - started))"
