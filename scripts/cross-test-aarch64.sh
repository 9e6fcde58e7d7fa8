#!/usr/bin/env bash
# Cross-compiles the library's core and kernels layers and their tests (tests/core, tests/kernels)
# for 64-bit ARM with Debian's aarch64 toolchain and runs them under qemu-aarch64: the kernels'
# NEON and scalar paths checked on an x86-64 machine. Correctness only (timings under QEMU mean
# nothing). Installs what it needs (Debian multiarch arm64 packages, the cross compiler, qemu-user)
# when missing; idempotent.
#   bash scripts/cross-test-aarch64.sh [BUILD_DIR]     (default build-aarch64; or `make cross-test`)
# Environment: JOBS (default nproc), WERROR=ON for -Werror.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-aarch64}"
jobs="${JOBS:-$(nproc)}"
start=$SECONDS

# --- Dependencies ------------------------------------------------------------------------------
sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "cross-test: run as root or install sudo" >&2; exit 1; }
  sudo_cmd="sudo"
fi
apt_get() { DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 "$@"; }
# Host tools and the arch-independent header-only libraries, then the arm64 libraries.
pkgs=(cmake ninja-build g++-aarch64-linux-gnu qemu-user nlohmann-json3-dev libcli11-dev
      libopenblas-dev:arm64 libopenblas0-pthread:arm64 libfmt-dev:arm64 libhwy-dev:arm64
      libgtest-dev:arm64)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "cross-test: installing ${missing[*]}"
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo_cmd dpkg --add-architecture arm64
  fi
  apt_get update -q
  # --no-remove: a multiarch version skew must fail here rather than uninstall host packages.
  apt_get install -y -q --no-remove "${missing[@]}"
fi

# --- Build -------------------------------------------------------------------------------------
# Ninja builds the test programs side by side (CMake's Makefiles build named targets one by one).
generator=()
[ -f "$build/CMakeCache.txt" ] || generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-aarch64.cmake" \
      -DCMAKE_BUILD_TYPE=Release -DRECUR_BUILD_BENCH=OFF -DRECUR_TESTS=kernels \
      -DRECUR_WERROR="${WERROR:-OFF}" >/dev/null
targets=()
for src in tests/core/test_*.cpp tests/kernels/test_*.cpp; do
  targets+=("$(basename "$src" .cpp)")
done
cmake --build "$build" -j "$jobs" --target "${targets[@]}"
built=$SECONDS

# --- Test under QEMU ---------------------------------------------------------------------------
# The toolchain file's emulator runs the tests on the multiarch arm64 loader and libraries (see
# there why not the cross sysroot): a QEMU_LD_PREFIX from the caller would undo that. The kernels
# run on every target the emulated CPU supports; RECUR_SIMD from the caller (an x86 name) must not
# narrow them.
unset QEMU_LD_PREFIX RECUR_SIMD
log="$build/cross-test.log"
status=0
# The build folder registers tests/core's and tests/kernels' cases only (RECUR_TESTS=kernels), less
# those that run the command-line tool (not built here, and an aarch64 program that a test starts
# would need binfmt_misc), and the worker pool's fork test: qemu-user aborts a child of a
# multithreaded fork() that starts a thread (qemu_plugin_vcpu_init_hook assertion), whatever the code.
(cd "$build" && ctest --output-on-failure -j "$jobs" -E '^(SimdCli|ThreadLimit)\.|^RunParts\.WorksInAForkedChild$') 2>&1 |
  tee "$log" ||
  status=$?

# Which SIMD targets ran (the per-target cases are named Simd/Fixture.Case/<target>).
echo "cross-test: SIMD targets run on aarch64 (passed cases per target):"
grep -E 'Test +#[0-9]+: Simd/.*Passed' "$log" | sed -E 's#.*: Simd/[^ ]+/([a-z0-9]+) .*#\1#' |
  sort | uniq -c | sed 's/^/  /' || true
if ! grep -qE 'Test +#[0-9]+: Simd/[^ ]+/neon .*Passed' "$log"; then
  echo "cross-test: no NEON case passed" >&2
  status=1
fi
echo "cross-test: built in $((built - start)) s, tested in $((SECONDS - built)) s"
exit $status
