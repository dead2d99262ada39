#!/usr/bin/env bash
# Measures the release binary as release.yml builds it: linked statically?,
# its size (target < 15 MB) and the startup of `tfctl --version` (target
# < 10 ms, beside `true` as the floor in the same run). The numbers go to BENCHMARKS.md ("Binary").
#
# Usage: scripts/bench-binary.sh
# Builds with the musl target when it is installed (what release.yml uses);
# otherwise, since this machine's rustup cannot download targets, a glibc
# binary linked statically with `-C target-feature=+crt-static`. Its own
# target dir (target/release-static) keeps the dev build untouched.
set -euo pipefail
cd "$(dirname "$0")/.."

if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  target=x86_64-unknown-linux-musl
  flags=${RUSTFLAGS:-}
else
  target=x86_64-unknown-linux-gnu
  flags="${RUSTFLAGS:-} -C target-feature=+crt-static"
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/release-static}
echo "build: RUSTFLAGS='${flags# }' cargo build --release --locked --target $target --bin tfctl"
RUSTFLAGS=$flags nice cargo build --quiet --release --locked --target "$target" --bin tfctl
bin="$CARGO_TARGET_DIR/$target/release/tfctl"

echo "file: $(file -b "$bin")"
echo "ldd:  $(ldd "$bin" 2>&1 | head -n 1 | sed 's/^[[:space:]]*//')"
bytes=$(stat -c %s "$bin")
echo "size: $bytes bytes ($(awk -v b="$bytes" 'BEGIN { printf "%.2f MB", b / 1000000 }'))"
echo "version: $("$bin" --version)"
if command -v hyperfine >/dev/null 2>&1; then
  # `true` is the floor of starting any process here: the ratio is what tfctl adds.
  hyperfine --shell=none --warmup 20 --runs 300 --style basic "$bin --version" "true"
else
  echo "hyperfine not found (apt-get install hyperfine)" >&2
  exit 1
fi
