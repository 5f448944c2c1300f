#!/usr/bin/env bash
# Build etcd, etcdctl and etcdutl for one version from the Go module proxy, into a per-version cache outside the
# clone. Prints the bin directory on stdout (progress goes to stderr). A rerun after a finished build returns at once.
#
# Usage: scripts/build-etcd.sh VERSION          e.g. 3.6.5 or v3.6.5
#
# Why from source: kubeadm 1.33/1.34 refuse an external etcd older than 3.5.24 (preflight ExternalEtcdVersion) and
# Debian 12 ships 3.4.23; etcd's release downloads are not reachable from our machines, the module proxy is. The
# module that pins the version is lab/go/etcd (made by its pin-version.sh, committed with its go.sum). For
# another version the module is generated into the cache first, trusting what the proxy serves on that first
# download; the log says so.
#
# Environment:
#   KUBEADM2HA_CACHE_DIR   cache root (default $XDG_CACHE_HOME/kubeadm2ha, else ~/.cache/kubeadm2ha), as src/paths.ts
#   KUBEADM2HA_BUILD_JOBS  go build -p (default: number of CPUs)
#   KUBEADM2HA_BUILD_NICE  nice level of the compiler (default 19: a cache warm-up must not starve tests or people)
set -euo pipefail

log() { printf 'build-etcd: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ $# -eq 1 ]] || die "usage: scripts/build-etcd.sh VERSION (e.g. 3.6.5)"
version="${1#v}"
[[ "$version" =~ ^3\.[0-9]+\.[0-9]+$ ]] || die "expected an etcd version like 3.6.5, got '$1'"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/lib/cache-build.sh"
# The committed pin of this version: lab/go/etcd (the lab's etcd) or lab/go/etcd-VERSION (an older kubeadm's stacked
# etcd). Its release.env names the commands it builds (ETCD_COMMANDS; all three when absent): the module proxy serves
# only the server module of some releases (3.5.24).
src=""
for d in "$repo/lab/go/etcd" "$repo/lab/go/etcd-$version"; do
  [[ "$(sed -n 's/^ETCD_VERSION=//p' "$d/release.env" 2>/dev/null)" == "$version" ]] && src="$d" && break
done
commands="$(sed -n 's/^ETCD_COMMANDS=//p' "${src:-/dev/null}/release.env" 2>/dev/null || true)"
read -ra BINARIES <<<"${commands:-etcd etcdctl etcdutl}"
cache_init "$(cache_root)/etcd/$version"
cache_exit_if_complete

command -v go >/dev/null || die "Go is not on PATH; building etcd $version needs Go (https://go.dev/dl)"
cache_lock "etcd $version"

export GOWORK=off CGO_ENABLED=0 GOOS=linux
# -mod=readonly: the build must use exactly the committed go.sum, never quietly rewrite it.
export GOFLAGS="-mod=readonly -buildvcs=false"
unset GOARCH # binaries for this machine's architecture; the cache path does not carry one

if [[ -z "$src" ]]; then
  src="$dir/src"
  log "lab/go pins no etcd $version; generating a module in $src (checksums trusted on first download)"
  "$repo/lab/go/etcd/pin-version.sh" "$version" "$src"
  commands="$(sed -n 's/^ETCD_COMMANDS=//p' "$src/release.env")"
  read -ra BINARIES <<<"${commands:-etcd etcdctl etcdutl}"
fi
git_sha="$(sed -n 's/^ETCD_GIT_SHA=//p' "$src/release.env")"

# Upstream's build (scripts/build.sh) stamps only the commit (its short form; we have the full hash from the proxy
# and keep it); the version is a constant in go.etcd.io/etcd/api/v3.
ldflags="-s -w"
[[ -n "$git_sha" ]] && ldflags+=" -X go.etcd.io/etcd/api/v3/version.GitSHA=$git_sha"
declare -A pkgs=([etcd]=./etcd [etcdctl]=go.etcd.io/etcd/etcdctl/v3 [etcdutl]=go.etcd.io/etcd/etcdutl/v3)

jobs="${KUBEADM2HA_BUILD_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
niceness="${KUBEADM2HA_BUILD_NICE:-19}"
cache_tmp

log "building etcd $version with $(go env GOVERSION) (-p $jobs, nice $niceness) from $src"
started=$SECONDS
# One binary at a time, server first: etcdctl and etcdutl reuse most of what it compiled.
for b in "${BINARIES[@]}"; do
  t0=$SECONDS c0=$(child_cpu)
  (cd "$src" && nice -n "$niceness" go build -p "$jobs" -trimpath -ldflags "$ldflags" -o "$tmp/$b" "${pkgs[$b]}") ||
    die "go build ${pkgs[$b]} (etcd $version) failed"
  log "  $b: $((SECONDS - t0)) s wall, $(($(child_cpu) - c0)) s CPU, $(($(stat -c %s "$tmp/$b") / 1048576)) MiB"
done

# Check the versions before publishing: a binary that reports another version is worse than no binary.
# (`etcd version` would start a server with a member named "version": the server takes --version, the tools a command.)
for b in "${BINARIES[@]}"; do
  if [[ $b == etcd ]]; then reported="$("$tmp/$b" --version)"; else reported="$("$tmp/$b" version)"; fi
  grep -Eq "^$b [Vv]ersion: $version\$" <<<"$reported" || die "$b reports '${reported%%$'\n'*}', expected $version"
done

log "etcd $version built in $((SECONDS - started)) s: $bin"
cache_publish "version=$version" "git_sha=$git_sha" "go=$(go env GOVERSION)" "built=$(date -u +%FT%TZ)" \
  "seconds=$((SECONDS - started))"
