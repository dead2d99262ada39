#!/usr/bin/env bash
# The test command: installs Terraform offline if needed, then runs every
# test (unit, end-to-end with real Terraform, fake GitHub on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
export TFCTL_TERRAFORM="${TFCTL_TERRAFORM:-$(scripts/install-terraform.sh .tools)}"
cargo test --locked "$@"
