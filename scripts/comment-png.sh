#!/usr/bin/env bash
# Photographs a real tfctl PR comment for the README: docs/comment.png.
#
# It copies examples/offline to a temp dir, adds the policy-violating stack
# of examples/offline/config-violation to it, runs
#   tfctl --config tfctl.yaml validate --all --format markdown
# (the comment body, exit 1: a violation), renders that Markdown the way
# GitHub does (cmark-gfm with GitHub's extensions, raw HTML kept so the
# <details> stay collapsed; github-markdown-css; mermaid for the graph) and
# screenshots it with headless Chromium, 1000 px wide, as tall as the page.
#
# Re-run it whenever the comment changes: scripts/comment-png.sh
# (then look at docs/comment.png and commit it).
#
# Needs: cargo, cmark-gfm, chromium and fonts-noto-color-emoji (Debian packages; installed with
# apt-get when missing and running as root), npm (github-markdown-css and
# mermaid, installed once into $TFCTL_SHOT_DIR).
# Env:   TFCTL_TERRAFORM terraform binary (default: scripts/install-terraform.sh .tools)
#        TFCTL_BIN       tfctl binary (default: `cargo build` of this checkout)
#        TFCTL_SHOT_DIR  npm packages dir (default /tmp/shot)
#        OUT             output file (default docs/comment.png)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${OUT:-$root/docs/comment.png}
shot_dir=${TFCTL_SHOT_DIR:-/tmp/shot}
width=1000

need_deb() { # test, package
  eval "$1" >/dev/null 2>&1 && return
  if [ "$(id -u)" -ne 0 ]; then
    echo "comment-png: $2 is missing: apt-get install $2" >&2
    exit 2
  fi
  echo "comment-png: installing $2" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2
}
need_deb 'command -v cmark-gfm' cmark-gfm
need_deb 'command -v chromium' chromium
# The comment's ✅ and ❌, as GitHub shows them.
need_deb 'fc-list | grep -q "Noto Color Emoji"' fonts-noto-color-emoji

css=$shot_dir/node_modules/github-markdown-css/github-markdown-light.css
mermaid=$shot_dir/node_modules/mermaid/dist/mermaid.min.js
if [ ! -f "$css" ] || [ ! -f "$mermaid" ]; then
  echo "comment-png: installing github-markdown-css and mermaid into $shot_dir" >&2
  mkdir -p "$shot_dir"
  npm install --no-audit --no-fund --silent --prefix "$shot_dir" \
    github-markdown-css@5.9.0 mermaid@12.3.0 >&2
fi

export TFCTL_TERRAFORM="${TFCTL_TERRAFORM:-$(scripts/install-terraform.sh .tools)}"
if [ -z "${TFCTL_BIN:-}" ]; then
  cargo build --quiet --locked --bin tfctl
  TFCTL_BIN=$root/target/debug/tfctl
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A fresh copy: no state from an earlier run, so every stack plans its
# creates, and nothing is written into the checkout.
cp -R examples/offline "$work/offline"
rm -rf "$work/offline/.tfctl"
cp -R examples/offline/config-violation/S3/public-assets "$work/offline/config/S3/"
status=0
(cd "$work/offline" && "$TFCTL_BIN" --config tfctl.yaml validate --all --format markdown --quiet) \
  >"$work/comment.md" || status=$?
if [ "$status" -ne 1 ]; then
  echo "comment-png: expected tfctl validate to fail with a violation (exit 1), got $status" >&2
  exit 1
fi

# GitHub's comment column, its Markdown styles, and mermaid for
# ```mermaid blocks (which GitHub draws as diagrams).
{
  cat <<'HTML'
<!doctype html>
<html><head><meta charset="utf-8">
<style>
body { margin: 0; background: #fff; }
.frame { margin: 16px; border: 1px solid #d0d7de; border-radius: 6px; }
.head { background: #f6f8fa; border-bottom: 1px solid #d0d7de; border-radius: 6px 6px 0 0;
  padding: 8px 16px; font: 14px -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; color: #59636e; }
.head b { color: #1f2328; }
.markdown-body { padding: 16px 24px; }
HTML
  cat "$css"
  cat <<'HTML'
</style></head>
<body><div class="frame"><div class="head"><b>tfctl</b> bot commented</div>
<div class="markdown-body">
HTML
  cmark-gfm -e table -e strikethrough -e autolink -e tagfilter --unsafe "$work/comment.md"
  cat <<HTML
</div></div>
<script src="file://$mermaid"></script>
<script>
for (const code of document.querySelectorAll('pre > code.language-mermaid')) {
  const div = document.createElement('div');
  div.className = 'mermaid';
  div.textContent = code.textContent;
  code.parentElement.replaceWith(div);
}
mermaid.initialize({ startOnLoad: false, theme: 'default' });
mermaid.run().finally(() => {
  document.body.setAttribute('data-height', String(document.documentElement.scrollHeight));
});
</script>
</body></html>
HTML
} >"$work/comment.html"

browser() {
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --allow-file-access-from-files --virtual-time-budget=10000 \
    --user-data-dir="$work/chromium" "$@" 2>/dev/null
}
# First pass: how tall the page is once mermaid has drawn; second: the picture.
height=$(browser --window-size="$width,1400" --dump-dom "file://$work/comment.html" |
  sed -n 's/.*data-height="\([0-9]*\)".*/\1/p' | head -n 1)
[ -n "$height" ] || { echo "comment-png: could not measure the page" >&2; exit 1; }
browser --window-size="$width,$height" --screenshot="$work/comment.png" "file://$work/comment.html" >/dev/null
mkdir -p "$(dirname "$out")"
cp "$work/comment.png" "$out"
echo "comment-png: wrote $out (${width}x$height)" >&2
