#!/usr/bin/env bash
# Installs the pinned OPA CLI into .tools/bin with `go install`, unless that exact version is
# already there. Tests compile Rego to Wasm with it; benchmarks run it as the reference server.
# The version is pinned here and only here.
set -euo pipefail
OPA_VERSION=v1.22.2
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.tools/bin"
opa="$bin/opa"

# Output captured first: with pipefail, `opa version | grep -q` fails whenever grep stops reading early.
installed_version() { local out; out="$("$opa" version 2>/dev/null)" || return 1; printf '%s\n' "$out" | sed -n 's/^Version: //p'; }
if [ -x "$opa" ] && [ "$(installed_version)" = "${OPA_VERSION#v}" ]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-opa: OPA ${OPA_VERSION} is not in $bin and Go is not installed." >&2
  echo "install-opa: install Go (https://go.dev/dl/) or put opa ${OPA_VERSION} at $opa." >&2
  exit 1
fi
echo "install-opa: building github.com/open-policy-agent/opa@${OPA_VERSION} into $bin (first time takes a few minutes)" >&2
mkdir -p "$bin"
# Compiling Rego to Wasm needs no cgo; a build without it cannot trip on a missing C toolchain.
GOBIN="$bin" CGO_ENABLED=0 go install "github.com/open-policy-agent/opa@${OPA_VERSION}"
echo "install-opa: installed opa $(installed_version)" >&2
