#!/usr/bin/env bash
# Installs a built recur into a scratch prefix and builds tests/consumer against it twice, as a
# user's project would: with CMake's find_package(recur) and with pkg-config. Runs both programs.
# Usage: scripts/check-install.sh [BUILD_DIR]   (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
prefix=$(mktemp -d /tmp/recur-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
echo "installed into $prefix: $(cd "$prefix" && find . -type f | wc -l) files"

cmake -S tests/consumer -B "$prefix/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$prefix/consumer-build" -j "$(nproc)" >/dev/null
"$prefix/consumer-build/consumer"

PKG_CONFIG_PATH="$prefix/lib/pkgconfig" c++ -O2 tests/consumer/main.cpp -o "$prefix/consumer-pc" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs recur)
"$prefix/consumer-pc"
echo "check-install: find_package(recur) and pkg-config consumers built and ran"
