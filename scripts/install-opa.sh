#!/usr/bin/env bash
# Installs the real Go OPA engine from PyPI (`opa-golib-python-bindings`,
# which declares an older Python but works on 3.11) into a venv, for the
# tests that require regorus and OPA to give identical verdicts.
# Usage: scripts/install-opa.sh [TOOLS_DIR]; prints the venv's python. Idempotent.
set -euo pipefail
tools=$(mkdir -p "${1:-.tools}" && cd "${1:-.tools}" && pwd)
venv="$tools/opa-venv"
if ! "$venv/bin/python" -c 'import opa_bindings' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --ignore-requires-python \
    'opa-golib-python-bindings>=0.4,<0.5' >&2
fi
echo "$venv/bin/python"
