#!/usr/bin/env bash
# Installs AWS's Runtime Interface Emulator (RIE), pinned, into .tools/bin with `go install`, unless
# that exact version is already there. The RIE end-to-end tests (test/rie/), `npx projen demo:rie`
# and the RIE init benchmark run the layer under it. The version is pinned here and only here.
#
# The Go module proxy serves RIE only as a pseudo-version (it has no tagged release in module form).
set -euo pipefail
RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.tools/bin"
rie="$bin/aws-lambda-rie"
# RIE prints no version of its own; the stamp beside the binary records which one `go install` built.
stamp="$rie.version"

if [ -x "$rie" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$RIE_VERSION" ]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-rie: aws-lambda-rie ${RIE_VERSION} is not in $bin and Go is not installed." >&2
  echo "install-rie: install Go (https://go.dev/dl/) or build ${RIE_MODULE}/cmd/aws-lambda-rie@${RIE_VERSION} into $rie." >&2
  exit 1
fi
echo "install-rie: building ${RIE_MODULE}/cmd/aws-lambda-rie@${RIE_VERSION} into $bin (about 30 s the first time)" >&2
mkdir -p "$bin"
rm -f "$stamp"
GOBIN="$bin" CGO_ENABLED=0 go install "${RIE_MODULE}/cmd/aws-lambda-rie@${RIE_VERSION}"
printf '%s\n' "$RIE_VERSION" > "$stamp"
echo "install-rie: installed aws-lambda-rie ${RIE_VERSION}" >&2
