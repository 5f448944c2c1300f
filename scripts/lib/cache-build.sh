# shellcheck shell=bash
# The cache discipline shared by scripts/build-k8s.sh, build-etcd.sh and build-k8s-extras.sh. Sourced after the
# script has defined BINARIES (array) and log(). Call cache_init DIR first; it sets $dir, $bin and $marker.
#
# A build directory is complete when its done-marker exists (written only after every binary is in place and
# answered its version check) and every binary is executable (catches one deleted by hand). Builds hold a flock on
# $dir/.lock — not a lock directory: the kernel drops it when the holder dies, so a killed build never blocks the
# next — write into $dir/.bin.tmp.<pid> and rename it to $bin, so nobody ever sees half a build.

cache_root() { printf '%s\n' "${KUBEADM2HA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubeadm2ha}"; }

cache_init() {
  dir=$1
  bin="$dir/bin"
  marker="$dir/.done"
}

cache_complete() {
  [[ -f "$marker" ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$bin/$b" ]] || return 1; done
}

# A finished cache: print the bin dir and stop the script.
cache_exit_if_complete() {
  if cache_complete; then
    printf '%s\n' "$bin"
    exit 0
  fi
}

# Take the build lock (waiting for another builder, saying so), then return at once if that builder finished it.
cache_lock() {
  command -v flock >/dev/null || { log "error: flock (util-linux) is not on PATH; it guards the cache"; exit 1; }
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  if ! flock -n 9; then
    log "another process is building $1; waiting for it…"
    flock 9
  fi
  cache_exit_if_complete
}

# A fresh $tmp for this build (leftovers of killed builds removed: we hold the lock, so none is live).
cache_tmp() {
  tmp="$dir/.bin.tmp.$$"
  rm -rf "$tmp" "$dir"/.bin.tmp.*
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
}

# CPU seconds used by this shell's finished children (cutime + cstime in /proc): on a shared, busy machine the wall
# time says little, the CPU time is what the build costs.
child_cpu() {
  local f
  read -ra f <"/proc/$$/stat"
  echo $(((f[15] + f[16]) / $(getconf CLK_TCK)))
}

# Publish $tmp as $bin, then the marker (KEY=VALUE lines given as arguments), then print the bin dir.
cache_publish() {
  rm -rf "$bin"
  mv "$tmp" "$bin"
  printf '%s\n' "$@" >"$marker.tmp"
  mv "$marker.tmp" "$marker"
  printf '%s\n' "$bin"
}
