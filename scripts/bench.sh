#!/usr/bin/env bash
# `npm run bench`: our preflight workflow vs ansible-playbook on the same 20 lab hosts, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
KUBEADM2HA_LOG_LEVEL=${KUBEADM2HA_LOG_LEVEL:-WARN} npx tsx bench/preflight-vs-ansible.ts
