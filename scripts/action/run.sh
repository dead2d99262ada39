#!/usr/bin/env bash
# Last step of the composite action (action.yml): turns the action's inputs
# into one tfctl command line and replaces itself with tfctl (`exec`), so the
# SIGINT/SIGTERM that GitHub sends on cancel reaches tfctl, which forwards it
# to terraform (DESIGN §4). A shell left in between would swallow it.
#
# Inputs arrive only as environment variables: INPUT_COMMAND, INPUT_CONFIG,
# INPUT_CONTROLLER_REPO, INPUT_ARGS, and TFCTL_BIN (default: tfctl on PATH).
# INPUT_ARGS is split on spaces, tabs and newlines, and nothing else: no
# quotes, globs, `$( )` or variables are interpreted, so an input cannot run
# code.
set -euo pipefail

# Every command `tfctl --help` lists, once (ship_action tests it against
# the binary).
COMMANDS="dispatch validate merge apply graph policy schema report drift key locks unlock"

command=${INPUT_COMMAND:-}
if [ -z "$command" ]; then
  echo "::error title=tfctl::the 'command' input is required (one of: $COMMANDS)" >&2
  exit 2
fi
known=false
for c in $COMMANDS; do
  [ "$command" = "$c" ] && known=true
done
if [ "$known" != true ]; then
  echo "::error title=tfctl::unknown command '$command' (expected one of: $COMMANDS)" >&2
  exit 2
fi

argv=()
if [ -n "${INPUT_CONFIG:-}" ]; then
  argv+=(--config "$INPUT_CONFIG")
fi
argv+=("$command")
if [ "$command" = dispatch ] && [ -n "${INPUT_CONTROLLER_REPO:-}" ]; then
  argv+=(--controller "$INPUT_CONTROLLER_REPO")
fi
if [ -n "${INPUT_ARGS:-}" ]; then
  # `read -a` splits on IFS without pathname expansion; -d '' reads every line.
  IFS=$' \t\n' read -r -d '' -a extra <<<"$INPUT_ARGS" || true
  # The `+` form: an empty array is "unbound" under `set -u` in bash 3.2 (macOS).
  argv+=(${extra[@]+"${extra[@]}"})
fi

exec "${TFCTL_BIN:-tfctl}" "${argv[@]}"
