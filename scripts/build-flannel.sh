#!/usr/bin/env bash
# Build the lab's pod network from the Go module proxy, into a cache outside the clone:
#   flanneld      flannel's daemon, github.com/flannel-io/flannel at the version lab/go/flannel pins
#   install-conf  flannel's atomic file installer (cmd/install_conf), which its init containers run
#   flannel       the CNI plugin: ours (lab/go/flannel/cni-flannel), because the proxy refuses upstream's
# Prints the bin directory on stdout (progress goes to stderr). A rerun after a finished build returns at once.
#
# Usage: scripts/build-flannel.sh
#
# The cache key is "flannel-<version>_<hash>", the hash covering every input (the pinned module's go.mod, go.sum and
# Go files, including the stub that replaces the Tencent Cloud VPC SDK the proxy refuses, and this script), so a
# changed input builds into a new directory and never mixes with an old build.
#
# Environment:
#   KUBEADM2HA_CACHE_DIR   cache root (default $XDG_CACHE_HOME/kubeadm2ha, else ~/.cache/kubeadm2ha), as src/paths.ts
#   KUBEADM2HA_BUILD_JOBS  go build -p (default: number of CPUs)
#   KUBEADM2HA_BUILD_NICE  nice level of the compiler (default 19: a cache warm-up must not starve tests or people)
set -euo pipefail

# Must match FLANNEL_VERSION in src/templates/flannel.ts and the require line of lab/go/flannel/go.mod.
FLANNEL_VERSION=0.28.10
BINARIES=(flanneld install-conf flannel)

log() { printf 'build-flannel: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ $# -eq 0 ]] || die "usage: scripts/build-flannel.sh (no arguments)"
command -v go >/dev/null || die "Go is not on PATH; building flanneld needs Go (https://go.dev/dl)"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/lib/cache-build.sh"
mod="$repo/lab/go/flannel"
[[ -f "$mod/go.mod" ]] || die "$mod/go.mod is missing"

export GOWORK=off CGO_ENABLED=0 GOOS=linux
# -mod=readonly: the build must use exactly the committed go.sum, never quietly rewrite it.
export GOFLAGS="-mod=readonly -buildvcs=false"
# Downloads only from the module proxy: without "direct", a module the proxy lacks fails the build instead of being
# fetched from its origin's VCS (the build must not reach anything but the proxy).
proxies="$(go env GOPROXY | tr ',|' '\n\n' | grep -Ev '^(direct|off)?$' | paste -sd, || true)"
[[ -n "$proxies" ]] || die "GOPROXY ($(go env GOPROXY)) names no module proxy; flannel is built from one"
export GOPROXY="$proxies"
unset GOARCH # binaries for this machine's architecture; the cache path does not carry one

pinned="$(cd "$mod" && go list -m -f '{{.Version}}' github.com/flannel-io/flannel)" ||
  die "cannot read the flannel version $mod/go.mod pins"
[[ "$pinned" == "v$FLANNEL_VERSION" ]] || die "$mod/go.mod pins flannel $pinned, this script builds v$FLANNEL_VERSION"

inputs_hash() {
  (
    cd "$mod"
    find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print | LC_ALL=C sort | xargs sha256sum
  )
  printf '%s  build-flannel.sh\n' "$(sha256sum <"${BASH_SOURCE[0]}" | cut -d' ' -f1)"
}
hash="$(inputs_hash | sha256sum | cut -c1-12)"
key="flannel-${FLANNEL_VERSION}_$hash"

cache_init "$(cache_root)/flannel/$key"
cache_exit_if_complete
command -v gcc >/dev/null || die "gcc is not on PATH; flanneld's udp backend has C (Debian: apt-get install gcc libc6-dev)"
cache_lock "$key"

jobs="${KUBEADM2HA_BUILD_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
niceness="${KUBEADM2HA_BUILD_NICE:-19}"
cache_tmp

log "building $key with $(go env GOVERSION) (-p $jobs, nice $niceness, GOPROXY=$GOPROXY)"
started=$SECONDS
# Upstream's Makefile stamps pkg/version.Version with `git describe`, i.e. the tag, and links amd64 with cgo and
# -extldflags -static: on amd64 the udp backend's packet proxy is C (pkg/backend/udp/proxy_amd64.c), so flanneld
# needs cgo there. Upstream links against musl (Alpine); we link Debian's static glibc, with the pure-Go resolver and
# user lookups (netgo, osusergo) so the static binary never asks glibc's NSS for shared libraries at run time. The
# two small programs are pure Go.
declare -A cgo=([flannel]=0 [install-conf]=0 [flanneld]=1)
declare -A tags=([flannel]="" [install-conf]="" [flanneld]="netgo,osusergo")
declare -A pkgs=(
  [flannel]=./cni-flannel
  [install-conf]=github.com/flannel-io/flannel/cmd/install_conf
  [flanneld]=github.com/flannel-io/flannel
)
declare -A ldflags=(
  [flannel]="-s -w"
  [install-conf]="-s -w"
  [flanneld]="-s -w -X github.com/flannel-io/flannel/pkg/version.Version=v$FLANNEL_VERSION -extldflags -static"
)
# Small ones first: a broken module or proxy shows in seconds, not after flanneld's minutes.
for b in flannel install-conf flanneld; do
  t0=$SECONDS c0=$(child_cpu)
  (cd "$mod" && CGO_ENABLED=${cgo[$b]} nice -n "$niceness" go build -p "$jobs" -trimpath -tags "${tags[$b]}" \
    -ldflags "${ldflags[$b]}" -o "$tmp/$b" "${pkgs[$b]}") ||
    die "go build ${pkgs[$b]} failed"
  log "  $b: $((SECONDS - t0)) s wall, $(($(child_cpu) - c0)) s CPU, $(($(stat -c %s "$tmp/$b") / 1024)) KiB"
done

# Check the versions before publishing: a binary that reports another version is worse than no binary.
reported="$("$tmp/flanneld" --version 2>&1)"
[[ "$reported" == "v$FLANNEL_VERSION" ]] || die "flanneld --version says '$reported', expected v$FLANNEL_VERSION"
reported="$(CNI_COMMAND=VERSION "$tmp/flannel")"
[[ "$reported" == *'"1.0.0"'* ]] || die "the CNI plugin's VERSION answer lacks CNI 1.0.0: $reported"

log "$key built in $((SECONDS - started)) s: $bin"
cache_publish "flannel=$FLANNEL_VERSION" "go=$(go env GOVERSION)" "built=$(date -u +%FT%TZ)" \
  "seconds=$((SECONDS - started))"
