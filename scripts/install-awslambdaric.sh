#!/usr/bin/env bash
# Installs AWS's Python runtime interface client (`awslambdaric`, pinned, from its manylinux wheel)
# into a project-local virtual environment, .tools/python-ric, unless that exact version is already
# there. The RIE end-to-end tests run a Python handler with it, as Lambda's Python runtimes do.
# The version is pinned here and only here.
set -euo pipefail
AWSLAMBDARIC_VERSION=4.2.2
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.tools/python-ric"
python="$venv/bin/python"

installed_version() { "$python" -c 'import importlib.metadata as m; print(m.version("awslambdaric"))' 2>/dev/null; }
if [ -x "$python" ] && [ "$(installed_version)" = "$AWSLAMBDARIC_VERSION" ]; then
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "install-awslambdaric: python3 is not installed; the Python runtime client needs Python 3.9 or later." >&2
  exit 1
fi
echo "install-awslambdaric: installing awslambdaric ${AWSLAMBDARIC_VERSION} into $venv" >&2
rm -rf "$venv"
python3 -m venv "$venv"
# Wheels only: the source distribution builds a C++ client with autotools, which this must not need.
"$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "awslambdaric==${AWSLAMBDARIC_VERSION}"
echo "install-awslambdaric: installed awslambdaric $(installed_version)" >&2
