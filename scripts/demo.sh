#!/usr/bin/env bash
# The README's first command: set up, start the local Temporal server, bring up a lab of SSH hosts,
# run the preflight workflow against them with live progress and a Web UI link, and tear the lab down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsx lab/cli.ts demo "$@"
