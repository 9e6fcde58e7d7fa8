#!/bin/sh
# recur against PyTorch on this CPU, side by side (see bench/compare_pytorch.py and bench/README.md).
# Usage: bench/compare_pytorch.sh [BUILD_DIR] [compare_pytorch.py options...]
# Builds the `recur` tool and bench_gemm (the sgemm ceiling C is compared with) in BUILD_DIR
# (default: build) if needed, then runs the comparison.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
[ $# -gt 0 ] && shift
if [ ! -x "$build/recur" ] || [ ! -x "$build/bench/bench_gemm" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DRECUR_BUILD_BENCH=ON >/dev/null
  cmake --build "$build" -j"$(nproc)" --target recur_cli bench_gemm
fi
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "compare_pytorch: PyTorch (python3-torch) is not installed for /usr/bin/python3; nothing to compare against, stopping."
  exit 0
fi
exec /usr/bin/python3 "$root/bench/compare_pytorch.py" --recur "$build/recur" "$@"
