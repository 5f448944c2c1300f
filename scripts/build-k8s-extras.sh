#!/usr/bin/env bash
# Build the non-Kubernetes binaries the lab's Kubernetes images need, into a cache outside the clone:
#   pause    the upstream pause container's program (k8s.io/kubernetes build/pause/linux/pause.c), static, with gcc
#   coredns  CoreDNS with the plugins kubeadm's Corefile uses (lab/go/extras/coredns)
#   hello    the lab's test workload, a tiny HTTP server (lab/go/extras/hello)
# Prints the bin directory on stdout (progress goes to stderr). A rerun after a finished build returns at once.
#
# Usage: scripts/build-k8s-extras.sh
#
# Why from source: image pulls and release downloads are not reachable from our machines; the Go module proxy and
# Debian's gcc are. The cache key is "coredns-<v>_pause-<v>_<hash>", the hash covering every input (the extras
# module's go.mod, go.sum and Go files, the pause.c used, this script), so a changed input builds into a new
# directory and never mixes with an old build.
#
# Environment:
#   KUBEADM2HA_CACHE_DIR   cache root (default $XDG_CACHE_HOME/kubeadm2ha, else ~/.cache/kubeadm2ha), as src/paths.ts
#   KUBEADM2HA_BUILD_JOBS  go build -p (default: number of CPUs)
#   KUBEADM2HA_BUILD_NICE  nice level of the compilers (default 19: a cache warm-up must not starve tests or people)
set -euo pipefail

# What kubeadm 1.34 deploys (cmd/kubeadm/app/constants: CoreDNSVersion v1.12.1, PauseVersion 3.10.1). kubeadm 1.33
# wants CoreDNS v1.12.0 and pause 3.10, whose pause.c is the same file as 3.10.1's; the lab uses these for both.
COREDNS_VERSION=1.12.1
PAUSE_VERSION=3.10.1
# pause.c is read from the Kubernetes module pinned for the lab (its committed go.sum verifies the download).
PAUSE_SOURCE_MODULE=v1.34.12
BINARIES=(pause coredns hello)

log() { printf 'build-k8s-extras: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ $# -eq 0 ]] || die "usage: scripts/build-k8s-extras.sh (no arguments)"
command -v go >/dev/null || die "Go is not on PATH; building CoreDNS and locating pause.c need Go (https://go.dev/dl)"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/lib/cache-build.sh"
extras="$repo/lab/go/extras"
pause_mod="$repo/lab/go/$PAUSE_SOURCE_MODULE"
[[ -f "$extras/go.mod" ]] || die "$extras/go.mod is missing"
[[ -f "$pause_mod/go.mod" ]] || die "$pause_mod/go.mod is missing"

export GOWORK=off CGO_ENABLED=0 GOOS=linux
# -mod=readonly: the build must use exactly the committed go.sum, never quietly rewrite it.
export GOFLAGS="-mod=readonly -buildvcs=false"
unset GOARCH # binaries for this machine's architecture; the cache path does not carry one

# Inside the pinned module, `go mod download` checks the zip against its committed go.sum; when the module is in the
# module cache already (it is wherever build-k8s.sh ran) this takes milliseconds.
k8s_dir="$(cd "$pause_mod" && go mod download -json k8s.io/kubernetes | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
pause_c="$k8s_dir/build/pause/linux/pause.c"
[[ -f "$pause_c" ]] || die "cannot find build/pause/linux/pause.c of k8s.io/kubernetes@$PAUSE_SOURCE_MODULE (got '$k8s_dir')"

# The key: file names and contents of every input, in a fixed order.
inputs_hash() {
  (
    cd "$extras"
    find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print | LC_ALL=C sort | xargs sha256sum
  )
  printf '%s  pause.c\n' "$(sha256sum <"$pause_c" | cut -d' ' -f1)"
  printf '%s  build-k8s-extras.sh\n' "$(sha256sum <"${BASH_SOURCE[0]}" | cut -d' ' -f1)"
}
hash="$(inputs_hash | sha256sum | cut -c1-12)"
key="coredns-${COREDNS_VERSION}_pause-${PAUSE_VERSION}_$hash"

cache_init "$(cache_root)/k8s/extras/$key"
cache_exit_if_complete

command -v gcc >/dev/null || die "gcc is not on PATH; pause.c is compiled with it (Debian: apt-get install gcc libc6-dev)"
command -v strip >/dev/null || die "strip is not on PATH (Debian: apt-get install binutils)"

cache_lock "$key"

jobs="${KUBEADM2HA_BUILD_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
niceness="${KUBEADM2HA_BUILD_NICE:-19}"
cache_tmp

log "building $key with $(go env GOVERSION) and $(gcc -dumpfullversion) (-p $jobs, nice $niceness)"
started=$SECONDS
measured() {
  local b=$1 t0=$2 c0=$3
  log "  $b: $((SECONDS - t0)) s wall, $(($(child_cpu) - c0)) s CPU, $(($(stat -c %s "$tmp/$b") / 1024)) KiB"
}

# pause: exactly upstream's build/pause/Makefile (CFLAGS = -Os -Wall -Werror -static -DVERSION=v$(TAG)-$(REV), then
# strip). REV is `git describe` of the Kubernetes checkout, which the module zip does not carry, so VERSION is just
# v3.10.1 and `pause -v` prints "pause.c v3.10.1".
t0=$SECONDS c0=$(child_cpu)
nice -n "$niceness" gcc -Os -Wall -Werror -static "-DVERSION=v$PAUSE_VERSION" -o "$tmp/pause" "$pause_c" ||
  die "gcc $pause_c failed (is libc6-dev installed? it provides the static libc)"
strip "$tmp/pause"
measured pause "$t0" "$c0"

# CoreDNS: upstream's Makefile flags (CGO_ENABLED=0, -ldflags "-s -w -X coremain.GitCommit=…"). GitCommit is the
# short commit of the tag as the module proxy records it (Origin in the .info file); empty when the proxy omits it.
info="$(go env GOMODCACHE)/cache/download/github.com/coredns/coredns/@v/v$COREDNS_VERSION.info"
(cd "$extras" && go mod download github.com/coredns/coredns) || die "downloading github.com/coredns/coredns failed"
commit="$(sed -n 's/.*"Hash":"\([0-9a-f]\{7\}\)[0-9a-f]*".*/\1/p' "$info" 2>/dev/null || true)"
t0=$SECONDS c0=$(child_cpu)
(cd "$extras" && nice -n "$niceness" go build -p "$jobs" -trimpath \
  -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$commit" -o "$tmp/coredns" ./coredns) ||
  die "go build of CoreDNS $COREDNS_VERSION failed"
measured coredns "$t0" "$c0"

t0=$SECONDS c0=$(child_cpu)
(cd "$extras" && nice -n "$niceness" go build -p "$jobs" -trimpath -ldflags "-s -w" -o "$tmp/hello" ./hello) ||
  die "go build of hello failed"
measured hello "$t0" "$c0"

# Check the versions before publishing: a binary that reports another version is worse than no binary.
reported="$("$tmp/pause" -v)"
[[ "$reported" == "pause.c v$PAUSE_VERSION" ]] || die "pause -v says '$reported', expected 'pause.c v$PAUSE_VERSION'"
# sed, not head: head exits after one line and coredns may then die of SIGPIPE, failing the build under pipefail.
reported="$("$tmp/coredns" -version | sed -n 1p)"
[[ "$reported" == "CoreDNS-$COREDNS_VERSION" ]] || die "coredns -version says '$reported', expected CoreDNS-$COREDNS_VERSION"

log "$key built in $((SECONDS - started)) s: $bin"
cache_publish "coredns=$COREDNS_VERSION" "pause=$PAUSE_VERSION" "go=$(go env GOVERSION)" "gcc=$(gcc -dumpfullversion)" \
  "built=$(date -u +%FT%TZ)" "seconds=$((SECONDS - started))"
