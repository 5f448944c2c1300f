#!/usr/bin/env bash
# `npm run bench`: one table (bench/RESULTS.md): ours vs Ansible, fan-out, Temporal overhead (dev server, PostgreSQL), worker and CLI start.
# Then images onto 10 containerd lab hosts, and onto 80 (the most one lab holds) with a smaller image set (80 hosts
# of the 10-host set as tars would need about 60 GB of disk): `images push` vs the seed's export + Ansible copy +
# import vs plain scp. Each run writes its own section of bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
KUBEADM2HA_LOG_LEVEL=${KUBEADM2HA_LOG_LEVEL:-WARN} npx tsx bench/run.ts
KUBEADM2HA_LOG_LEVEL=${KUBEADM2HA_LOG_LEVEL:-WARN} npx tsx bench/images-vs-ansible.ts
KUBEADM2HA_LOG_LEVEL=${KUBEADM2HA_LOG_LEVEL:-WARN} BENCH_IMAGE_HOSTS=80 BENCH_BASE_MB=20 BENCH_APP_MB=5 \
  BENCH_IMAGES_NOTE="A quarter of the 10-host set's size: 80 hosts of the 10-host set would hold about 60 GB (tars, content store, unpacked layers, staged blobs) on a lab disk with 55 GB free." \
  npx tsx bench/images-vs-ansible.ts
