#!/usr/bin/env bash
# Fetches libatomic.so.1 for x86_64 and arm64 from Debian's `libatomic1` package (pinned, checked by
# sha256), with its copyright file, into lib/node-layer/<arch>/. The Node.js layer
# (src/opa-node-runtime-layer.ts) ships it as a fallback beside the Node.js binary: that binary
# needs libatomic.so.1, which Lambda's Amazon Linux 2023 images (built from AL2023-minimal) may lack.
# The launcher appends the folder to LD_LIBRARY_PATH, so a system copy on that path wins.
#
# The library asks glibc for nothing newer than GLIBC_2.14 (x86_64) and GLIBC_2.17 (arm64)
# (`objdump -T`), well inside Amazon Linux 2023's 2.34. Its license is GPL-3.0 with the GCC Runtime
# Library Exception; Debian keeps the copyright file in gcc-12-base (libatomic1's doc folder is a
# link to it), which is the same text for every architecture.
#
# Reused when the files are there with the pinned checksums. Runs after compile (lib/ is jsii's
# output folder and the npm package ships it).
set -euo pipefail
POOL=https://deb.debian.org/debian/pool/main/g/gcc-12
VERSION=12.2.0-14+deb12u1
# <arch as Lambda names it> <Debian arch> <multiarch dir> <sha256 of the .deb>
DEBS=(
  "x86_64 amd64 x86_64-linux-gnu fbd4e154a6b444229ea002cc209df099209c0adc09102e5fd21239a3d2b55e2d"
  "arm64 arm64 aarch64-linux-gnu 1693aa13ce2b30d061a519fc28b77b9bab8c8e45804ced5969d99821e1bc2159"
)
BASE_DEB="gcc-12-base_${VERSION}_amd64.deb"
BASE_SHA256=1896a2aacf4ad681ff5eacc24a5b0ca4d5d9c9b9c9e4b6de5197bc1e116ea619
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/lib/node-layer"
stamp="$out/.version"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$VERSION" ] \
  && [ -f "$out/x86_64/libatomic.so.1" ] && [ -f "$out/arm64/libatomic.so.1" ]; then
  exit 0
fi

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}
# Downloads one .deb and checks it against its pinned sha256.
fetch() {
  local name="$1" expected="$2" file="$3"
  curl --fail --silent --show-error --location --max-time 60 --retry 2 -o "$file" "$POOL/$name"
  local actual
  actual="$(sha256 "$file")"
  if [ "$actual" != "$expected" ]; then
    echo "fetch-libatomic: $name has sha256 $actual, expected $expected" >&2
    exit 1
  fi
}
# Extracts the .deb's data archive (ar + tar, so it also works where dpkg-deb is missing).
unpack() {
  local deb="$1" dir="$2"
  mkdir -p "$dir"
  (cd "$dir" && ar x "$deb" && tar -xf data.tar.* && rm -f data.tar.* control.tar.* debian-binary)
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetch-libatomic: fetching libatomic1 ${VERSION} (amd64, arm64) from deb.debian.org into $out" >&2
fetch "$BASE_DEB" "$BASE_SHA256" "$work/base.deb"
unpack "$work/base.deb" "$work/base"
rm -rf "$out"
for row in "${DEBS[@]}"; do
  read -r arch debarch multiarch sha <<<"$row"
  fetch "libatomic1_${VERSION}_${debarch}.deb" "$sha" "$work/$debarch.deb"
  unpack "$work/$debarch.deb" "$work/$debarch"
  mkdir -p "$out/$arch"
  # libatomic.so.1 is a link to libatomic.so.1.2.0: copy the file under the name the loader asks for.
  cp -L "$work/$debarch/usr/lib/$multiarch/libatomic.so.1" "$out/$arch/libatomic.so.1"
  cp "$work/base/usr/share/doc/gcc-12-base/copyright" "$out/$arch/libatomic.so.1.copyright"
done
printf '%s\n' "$VERSION" > "$stamp"
