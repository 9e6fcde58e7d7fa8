#!/usr/bin/env bash
# Builds KenLM's lmplz, query and build_binary from a source tree, for bench/kenlm/compare_kenlm.sh.
# Not part of recur's library or tests: the tests use fixtures this produced once (tests/data/ngram/README.md).
# Usage: bench/kenlm/build_kenlm.sh SRC_DIR OUT_DIR   (SRC_DIR: e.g. `git archive` of github.com/kpu/kenlm)
set -euo pipefail
if [[ $# -ne 2 ]]; then
    echo "usage: $0 SRC_DIR OUT_DIR" >&2
    exit 2
fi
src=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
[[ -f "$src/lm/builder/lmplz_main.cc" ]] || { echo "$src: not a KenLM source tree (no lm/builder/lmplz_main.cc)" >&2; exit 1; }

deps=(build-essential cmake libboost-program-options-dev libboost-system-dev libboost-thread-dev
      libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev)
missing=()
for p in "${deps[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
    sudo_cmd=""
    [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

jobs=$(nproc)
cmake -S "$src" -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DKENLM_MAX_ORDER=6 >/dev/null
cmake --build "$out/build" -j"$jobs" --target lmplz query build_binary
mkdir -p "$out/bin"
for t in lmplz query build_binary; do
    cp "$out/build/bin/$t" "$out/bin/$t"
done
echo "KenLM built: $out/bin/{lmplz,query,build_binary}"
