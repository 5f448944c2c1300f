#!/usr/bin/env bash
# `npm run bench`: one table (bench/RESULTS.md): ours vs Ansible, fan-out, Temporal overhead (dev server, PostgreSQL), worker and CLI start.
# Then images onto 10 containerd lab hosts: `images push` vs the seed's export + Ansible copy + import vs plain scp.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
KUBEADM2HA_LOG_LEVEL=${KUBEADM2HA_LOG_LEVEL:-WARN} npx tsx bench/run.ts
KUBEADM2HA_LOG_LEVEL=${KUBEADM2HA_LOG_LEVEL:-WARN} npx tsx bench/images-vs-ansible.ts
