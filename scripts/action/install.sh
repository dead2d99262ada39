#!/usr/bin/env bash
# Installs tfctl for the composite action (action.yml); two phases, so that
# actions/cache can restore the binary between them:
#
#   install.sh resolve   version, target triple, install dir and cache key
#                        → $GITHUB_OUTPUT (version, target, dir, cache-key, repo)
#   install.sh install   the release binary for the runner, verified against its
#                        published SHA-256, else a `cargo build --release --locked`
#                        of the action's own source; puts its dir on $GITHUB_PATH.
#
# Everything it is told arrives in environment variables (never in script
# text), it never runs anything it downloaded except `tfctl --version` after
# the checksum matched, and a checksum mismatch is fatal (never "fall back").
#
# Inputs (env): GITHUB_ACTION_PATH (the action's source), TFCTL_VERSION_INPUT,
# TFCTL_ACTION_REPOSITORY, RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE,
# RUNNER_TEMP, GITHUB_SERVER_URL; install phase also TFCTL_VERSION,
# TFCTL_TARGET, TFCTL_DIR, TFCTL_REPO, TFCTL_CACHE_HIT.
# TFCTL_RELEASE_BASE_URL replaces `$GITHUB_SERVER_URL/OWNER/REPO/releases/download`
# (a mirror, or a local server in tests).
set -euo pipefail

die() {
  echo "::error title=tfctl install::$*" >&2
  exit 1
}

# `key=value` lines for the step's outputs; stdout when run outside Actions.
output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  else
    printf '%s=%s\n' "$1" "$2"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}

action_path() {
  [ -n "${GITHUB_ACTION_PATH:-}" ] || die "GITHUB_ACTION_PATH is not set (run this from action.yml)"
  printf '%s' "$GITHUB_ACTION_PATH"
}

# The version in the action's own Cargo.toml: the binary then matches the
# action.yml it is driven by.
source_version() {
  sed -n 's/^version = "\([^"]*\)"$/\1/p' "$(action_path)/Cargo.toml" | head -n 1
}

# Release asset name suffix for this runner (what release.yml builds).
target_triple() {
  case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
    Linux/X64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64) echo aarch64-unknown-linux-musl ;;
    macOS/X64) echo x86_64-apple-darwin ;;
    macOS/ARM64) echo aarch64-apple-darwin ;;
    *) die "no tfctl build for runner ${RUNNER_OS:-?}/${RUNNER_ARCH:-?} (Linux and macOS, X64 and ARM64, are supported)" ;;
  esac
}

# owner/repo the releases come from: the action's repository. Inside a
# composite action `github.action_repository` can be empty, so the
# `_actions/OWNER/REPO/REF` layout of the runner's action cache is the
# fallback; a local action (`uses: ./`) has neither and builds from source.
release_repo() {
  if [ -n "${TFCTL_ACTION_REPOSITORY:-}" ]; then
    printf '%s' "$TFCTL_ACTION_REPOSITORY"
    return
  fi
  local path rest owner repo
  path=$(action_path)
  case "$path" in
    */_actions/*/*/*)
      rest=${path##*/_actions/}
      owner=${rest%%/*}
      rest=${rest#*/}
      repo=${rest%%/*}
      printf '%s/%s' "$owner" "$repo"
      ;;
  esac
}

# Identifies the action's source, so a binary built from an unreleased
# commit is never reused for another commit with the same version.
source_id() {
  local root
  root=$(action_path)
  (
    cd "$root"
    # Only what exists: a source tree without Cargo.lock or src/ still gets an id.
    for path in Cargo.toml Cargo.lock src; do
      [ ! -e "$path" ] || find "$path" -type f
    done | LC_ALL=C sort | while IFS= read -r f; do
      sha256_of "$f"
    done
  ) | {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi
  } | cut -c 1-16
}

resolve() {
  local version target repo id base dir
  version=${TFCTL_VERSION_INPUT:-}
  version=${version#v}
  [ -n "$version" ] || version=$(source_version)
  [ -n "$version" ] || die "cannot read the version from $(action_path)/Cargo.toml; set the 'version' input"
  case "$version" in
    *[!0-9A-Za-z.+-]*) die "version '$version' is not a version number" ;;
  esac
  target=$(target_triple)
  repo=$(release_repo)
  case "$repo" in
    '' | */*/* | *[!0-9A-Za-z._/-]*) repo='' ;;
  esac
  id=$(source_id)
  base=${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}
  dir="$base/tfctl/$version-$id/$target"
  output version "$version"
  output target "$target"
  output repo "$repo"
  output dir "$dir"
  output cache-key "tfctl-$target-$version-$id"
}

# Downloads $1 to $2. Returns 2 when the server says the file does not exist
# (no such release: build from source), 1 on any other failure.
fetch() {
  local url=$1 dest=$2 proto='=https' code
  case "$url" in
    http://127.0.0.1[:/]* | http://localhost[:/]*) proto='=http' ;;
  esac
  code=$(curl --proto "$proto" --tlsv1.2 --location --silent --show-error \
    --retry 3 --retry-delay 2 --connect-timeout 20 --max-time 300 \
    --output "$dest" --write-out '%{http_code}' "$url") || return 1
  case "$code" in
    200) return 0 ;;
    404) return 2 ;;
    *)
      echo "tfctl install: $url answered HTTP $code" >&2
      return 1
      ;;
  esac
}

# Release binary → $TFCTL_DIR/tfctl. Returns 2 when there is no such release.
install_release() {
  local base url tmp expected actual status=0
  base=${TFCTL_RELEASE_BASE_URL:-${GITHUB_SERVER_URL:-https://github.com}/$TFCTL_REPO/releases/download}
  url="$base/v$TFCTL_VERSION/tfctl-$TFCTL_TARGET"
  tmp=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/tfctl-download.XXXXXX")
  fetch "$url.sha256" "$tmp/tfctl.sha256" || status=$?
  if [ "$status" -eq 0 ]; then
    fetch "$url" "$tmp/tfctl" || status=$?
  fi
  if [ "$status" -ne 0 ]; then
    rm -rf "$tmp"
    return "$status"
  fi
  # `<64 hex>  tfctl-<target>`, as release.yml writes it.
  expected=$(cut -d ' ' -f 1 <"$tmp/tfctl.sha256" | head -n 1)
  actual=$(sha256_of "$tmp/tfctl")
  case "$expected" in
    [0-9a-f]*) ;;
    *) die "$url.sha256 is not a SHA-256 checksum file" ;;
  esac
  if [ "${#expected}" -ne 64 ] || [ "$expected" != "$actual" ]; then
    rm -rf "$tmp"
    die "checksum mismatch for $url: expected ${expected}, got $actual; refusing to install it"
  fi
  mkdir -p "$TFCTL_DIR"
  chmod 0755 "$tmp/tfctl"
  mv "$tmp/tfctl" "$TFCTL_DIR/tfctl"
  rm -rf "$tmp"
  echo "tfctl install: v$TFCTL_VERSION for $TFCTL_TARGET from $url (sha256 $actual)"
}

install_source() {
  local root build
  root=$(action_path)
  command -v cargo >/dev/null 2>&1 || die "no tfctl release v$TFCTL_VERSION for $TFCTL_TARGET and no cargo to build it from source"
  build=${RUNNER_TEMP:-${TMPDIR:-/tmp}}/tfctl-build
  echo "tfctl install: building v$TFCTL_VERSION from source in $root"
  CARGO_TARGET_DIR=$build cargo build --release --locked --manifest-path "$root/Cargo.toml" --bin tfctl >&2 \
    || die "cargo build of tfctl from $root failed"
  mkdir -p "$TFCTL_DIR"
  cp "$build/release/tfctl" "$TFCTL_DIR/tfctl"
}

install() {
  local status=0 reported
  : "${TFCTL_VERSION:?}" "${TFCTL_TARGET:?}" "${TFCTL_DIR:?}"
  if [ "${TFCTL_CACHE_HIT:-}" = true ] && [ -x "$TFCTL_DIR/tfctl" ]; then
    echo "tfctl install: v$TFCTL_VERSION restored from the cache"
  elif [ -n "${TFCTL_REPO:-}" ] || [ -n "${TFCTL_RELEASE_BASE_URL:-}" ]; then
    install_release || status=$?
    if [ "$status" -eq 2 ]; then
      echo "tfctl install: no release v$TFCTL_VERSION for $TFCTL_TARGET; building from source"
      install_source
    elif [ "$status" -ne 0 ]; then
      echo "::warning title=tfctl install::downloading tfctl v$TFCTL_VERSION failed; building from source"
      install_source
    fi
  else
    install_source
  fi
  reported=$("$TFCTL_DIR/tfctl" --version) || die "$TFCTL_DIR/tfctl does not run"
  [ "$reported" = "tfctl $TFCTL_VERSION" ] \
    || die "$TFCTL_DIR/tfctl reports '$reported', expected 'tfctl $TFCTL_VERSION'"
  if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$TFCTL_DIR" >>"$GITHUB_PATH"
  fi
  output path "$TFCTL_DIR/tfctl"
}

case "${1:-}" in
  resolve) resolve ;;
  install) install ;;
  *)
    echo "usage: $0 resolve|install" >&2
    exit 2
    ;;
esac
