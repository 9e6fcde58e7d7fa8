#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (ASan + UBSan) and runs each for a bounded time
# from its seed corpus in fuzz/corpus/<name>/ (read only; new inputs go to a scratch folder).
# A finding (crash, sanitizer report, non-recur exception, timeout, allocation past the limit)
# fails the script and leaves the input in build-fuzz/findings/; once fixed, copy it into
# fuzz/regressions/<name>/, where every ctest run replays it (tests/CMakeLists.txt).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 30 s, every target)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
cxx=$(command -v clang++-16 || true)
[ -n "$cxx" ] || { echo "fuzz: clang++-16 is needed (scripts/install-deps.sh --fuzz installs it)" >&2; exit 1; }
build=build-fuzz
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECUR_FUZZ=ON \
  -DRECUR_BUILD_TESTS=OFF -DRECUR_BUILD_BENCH=OFF >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.cpp; do targets+=("$(basename "$f" .cpp | sed 's/^fuzz_//')"); done
fi
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"
mkdir -p "$build/findings"
status=0
for t in "${targets[@]}"; do
  scratch=$(mktemp -d)
  echo "== fuzz_$t: ${seconds} s"
  if ! "$build/fuzz/fuzz_$t" "$scratch" "fuzz/corpus/$t" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
      -artifact_prefix="$build/findings/$t-" 2>"$build/findings/$t.log"; then
    echo "fuzz_$t: FINDING (log: $build/findings/$t.log)"; tail -n 40 "$build/findings/$t.log"; status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$build/findings/$t.log" | tail -n 2
  fi
  rm -rf "$scratch"
done
exit $status
