#!/usr/bin/env bash
# Installs recur's build and test dependencies from Debian packages. Idempotent.
# Open MPI is optional for the build (data-parallel `recur train` under mpirun) but installed here, so
# that CI builds and tests it; procps gives the MPI test pgrep (to kill one process of a job).
# --fuzz adds clang 16 and its sanitizer/libFuzzer runtime (scripts/fuzz.sh; clang 14 lacks
# std::source_location).
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libopenblas-dev libopenblas0-pthread
      libgtest-dev libbenchmark-dev
      libcli11-dev nlohmann-json3-dev libfmt-dev libhwy-dev
      openmpi-bin libopenmpi-dev procps
      clang-format)
if [ "${1:-}" = "--fuzz" ]; then pkgs+=(clang-16 libclang-rt-16-dev); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "${missing[@]}"
fi
