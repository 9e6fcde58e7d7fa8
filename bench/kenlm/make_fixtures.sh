#!/usr/bin/env bash
# Regenerates the KenLM fixtures in tests/data/ngram/ (dev-only; the tests never run KenLM).
# Usage: bench/kenlm/make_fixtures.sh KENLM_BIN_DIR [RECUR_BINARY]
#   KENLM_BIN_DIR  from bench/kenlm/build_kenlm.sh: OUT_DIR/bin
#   RECUR_BINARY   default build/recur: makes the entropy-pruned model (lmplz has no such pruning)
# Inputs (committed, written by hand or cut from The Time Machine as the README says) stay as they are;
# only lmplz's ARPA files and query's outputs are rewritten.
set -euo pipefail
bin=$(cd "${1:?usage: $0 KENLM_BIN_DIR [RECUR_BINARY]}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
recur=$(realpath "${2:-$root/build/recur}")
cd "$root/tests/data/ngram"
lmplz="$bin/lmplz -S 100M"
$lmplz -o 3 --discount_fallback < tiny.txt > tiny.o3.fallback.arpa 2>/dev/null
$lmplz -o 2 < tm120.txt > tm120.o2.arpa 2>/dev/null
$lmplz -o 3 < tm120.txt > tm120.o3.arpa 2>/dev/null
$lmplz -o 3 --prune 0 1 2 < tm120.txt > tm120.o3.prune012.arpa 2>/dev/null
$lmplz -o 2 --discount_fallback < edge.txt > edge.o2.fallback.arpa 2>/dev/null
# recur's Stolcke pruning drops suffixes of kept trigrams (KenLM fills them with blanks).
"$recur" ngram train tm120.txt --smoothing kn --order 3 --prune-entropy 1e-4 -o tm120.o3.entropy.arpa > /dev/null
for pair in tm120.o2:tm_heldout tm120.o3:tm_heldout edge.o2.fallback:edge_eval srilm_style:srilm_eval \
    tm120.o3.entropy:tm_heldout; do
    model=${pair%%:*} text=${pair##*:}
    "$bin/query" -v sentence "$model.arpa" < "$text.txt" > "$model.$text.query_sentence.txt" 2>/dev/null
    "$bin/query" -v summary "$model.arpa" < "$text.txt" > "$model.$text.query_summary.txt" 2>/dev/null
done
# The 4-gram of tm120.txt must fail: lmplz's message is what test_kneser_ney.cpp checks recur's against.
if $lmplz -o 4 < tm120.txt > /dev/null 2> /tmp/make_fixtures_o4.err; then
    echo "expected lmplz -o 4 on tm120.txt to fail on its 3-gram discounts" >&2
    exit 1
fi
grep -m1 -o 'ERROR: [^.]*range for adjusted count [0-9]*: [-0-9.e]*' /tmp/make_fixtures_o4.err
echo "fixtures written to $(pwd)"
