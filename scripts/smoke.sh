#!/usr/bin/env bash
# Smoke tests of the packages jsii-pacmak built in dist/ (`npx projen package-all`): for each
# language, a small CDK app in that language (smoke/<language>/) synthesizes a stack with the OPA
# layer on Node.js functions: a bundle compiled from smoke/policy by OpaBundle.fromRego with the
# pinned OPA and checked against `queries`, a remote bundle whose token is in Secrets Manager, the
# layer attached with addLayers, addToFunctions and addToAllFunctions, and grantRead. Each checks the
# template (the layer, each function's Layers and environment, the secret's grant scoped to its
# ARN), the layer's folder, and that an unanswered query fails synth; and a second stack in which a
# Python 3.13 (x86_64) and a provided.al2023 (arm64) function get the Node.js layer of their
# architecture beside the OPA layer, while an Amazon Linux 2 runtime is refused. Each runs in a fresh work
# copy under a temporary folder; packages come from the registries (PyPI, Maven Central, the Go
# module proxy) on every run.
#
#   bash scripts/smoke.sh [python] [java] [go]     (default: all three)
#
# Prints one line per language with its time, writes them to test-reports/smoke.txt, and exits
# non-zero when any language fails.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
# The aws-cdk-lib version the smoke apps are built against: the oldest this library supports
# (cdkVersion in .projenrc.ts), read from the devDependency projen pins to it.
cdk_version="$(node -p 'require("./package.json").devDependencies["aws-cdk-lib"]')"
version="$(node -p 'require("./package.json").version')"
languages=("$@")
[ ${#languages[@]} -eq 0 ] && languages=(python java go)

work="$(mktemp -d "${TMPDIR:-/tmp}/opa-smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# What the apps' synths write to temporary folders (cloud assemblies, layer folders, `opa build`
# output) goes under the work folder and leaves with it.
mkdir -p "$work/tmp"
export TMPDIR="$work/tmp"
mkdir -p test-reports
report=test-reports/smoke.txt
: >"$report"

# The apps compile the Rego in smoke/policy at synth (OpaBundle.fromRego) with the pinned OPA.
bash scripts/install-opa.sh || { echo "smoke: cannot install the pinned OPA" >&2; exit 1; }
export OPA_SMOKE_POLICY="$root/smoke/policy" OPA_SMOKE_OPA="$root/.tools/bin/opa"
# Functions whose runtime has no node get the Node.js layer, built from these packages.
bash scripts/install-node-packages.sh || { echo "smoke: cannot install the node-linux-* packages" >&2; exit 1; }
export OPA_SMOKE_NODE_PACKAGES="$root/.tools/node-packages"

smoke_python() {
  local wheel
  wheel="$(ls dist/python/*.whl 2>/dev/null | head -1)"
  [ -n "$wheel" ] || { echo "smoke python: no wheel in dist/python (run npx projen package-all)" >&2; return 1; }
  python3 -m venv "$work/venv" &&
    "$work/venv/bin/pip" install --quiet --disable-pip-version-check "$wheel" "aws-cdk-lib==$cdk_version" &&
    "$work/venv/bin/python" smoke/python/app.py
}

smoke_java() {
  local dir="dist/java/io/github/example/opa-lambda-extension/$version"
  [ -f "$dir/opa-lambda-extension-$version.jar" ] || { echo "smoke java: no jar in $dir (run npx projen package-all)" >&2; return 1; }
  # Installed on every run, so the local repository never serves a jar from an earlier build.
  mvn -q -B install:install-file -Dfile="$dir/opa-lambda-extension-$version.jar" \
    -DpomFile="$dir/opa-lambda-extension-$version.pom" &&
    cp -r smoke/java "$work/java" &&
    (cd "$work/java" && mvn -q -B compile -Dopa.version="$version" -Dcdk.version="$cdk_version" &&
      mvn -q -B exec:java -Dopa.version="$version" -Dcdk.version="$cdk_version")
}

smoke_go() {
  local module="$root/dist/go/opalambdaextension"
  [ -f "$module/go.mod" ] || { echo "smoke go: no module in dist/go (run npx projen package-all)" >&2; return 1; }
  cp -r smoke/go "$work/go" &&
    (cd "$work/go" &&
      go mod edit -replace "github.com/example/opa-lambda-extension-go/opalambdaextension=$module" \
        -require "github.com/aws/aws-cdk-go/awscdk/v2@v$cdk_version" &&
      go mod tidy && go build -o smoke-app . && ./smoke-app)
}

failed=0
for lang in "${languages[@]}"; do
  echo "== smoke: $lang"
  start=$SECONDS
  if "smoke_$lang"; then result=passed; else result=failed; failed=$((failed + 1)); fi
  line="smoke $lang: $result in $((SECONDS - start)) s"
  echo "$line"
  echo "$line" >>"$report"
done
echo "== smoke summary"
cat "$report"
exit $((failed > 0))
