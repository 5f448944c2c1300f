#!/usr/bin/env bash
# The test command of the README and of CI: set up what is missing, then types, lint and every test
# (unit, and integration against a real Temporal dev server and real sshd lab hosts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-k8s-lab.sh
# The nspawn hosts' Debian root fs (test/lab/nspawn): 1-4 min cold (mmdebstrap), instant when cached.
bash scripts/build-nspawn-rootfs.sh >/dev/null
# The stock Temporal server + temporal-sql-tool for the PostgreSQL topology test (test/e2e/postgres-topology.test.ts):
# 753 s wall / 167 s CPU measured after the CLI build (same module graph, so mostly a warm Go cache), instant cached.
bash scripts/build-temporal-server.sh >/dev/null
# Many lab kubelets on one kernel: each takes inotify instances, and Debian's default of 128 ran out with a few labs
# at once ("inotify_init: too many open files", the node never registered). Raised at runtime only, never lowered.
if [ "$(sysctl -n fs.inotify.max_user_instances)" -lt 1024 ]; then sysctl -qw fs.inotify.max_user_instances=1024; fi
npx tsc --noEmit
npx eslint .
npx vitest run "$@"
