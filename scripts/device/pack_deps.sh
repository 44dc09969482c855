#!/usr/bin/env bash
# Packs the C++ libraries the model core links (absl, nlohmann-json, PCRE2, utf8proc, OpenSSL's
# libcrypto, CLI11) from Debian 12 into build-device-deps/, for a GPU machine that has a CUDA
# libtorch but none of these and cannot fetch them (scripts/device/check.sh uses the folder).
# Debian's x86-64 builds need glibc 2.36 or newer there, and the C++11 ABI (pip PyTorch has used it
# since 2.7).
#
#   scripts/device/pack_deps.sh [DEST]       # default build-device-deps; about 20 MiB
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=${1:-build-device-deps}
PACKAGES=(libabsl-dev libabsl20220623 nlohmann-json3-dev libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2
          libssl-dev libssl3 libcli11-dev)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "${PACKAGES[@]}" >/dev/null)
rm -rf "$DEST"
mkdir -p "$DEST"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$DEST"; done
# What the build does not read: documentation, and the static archives that have shared twins.
rm -rf "$DEST/usr/share/doc" "$DEST/usr/share/man"
find "$DEST" -name '*.a' -delete
echo "packed into $DEST: $(du -sh "$DEST" | cut -f1) ($(printf '%s ' "${PACKAGES[@]}"))"
