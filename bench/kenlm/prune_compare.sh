#!/usr/bin/env bash
# Perplexity against model size: count pruning (lmplz --prune, which recur reproduces byte for
# byte) against relative-entropy pruning (recur's --target-size, Stolcke 1998) to the same number
# of n-grams. WikiText-2: 5-grams estimated on valid.txt, test.txt scored; both pruned models are
# also scored by KenLM's query when KENLM_BIN_DIR is given (it must load recur's files and agree).
#
# Usage: bench/kenlm/prune_compare.sh [RECUR_BINARY] [KENLM_BIN_DIR]
# Data: RECUR_DATA (first folder) or ../shared/data: wikitext-2/{valid,test}.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
recur=$(realpath "${1:-$root/build/recur}")
kenlm=${2:-}
data=${RECUR_DATA:-$root/../shared/data}
data=${data%%:*}
work=$(mktemp -d /tmp/prune_compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
export LC_ALL=C
train="$data/wikitext-2/valid.txt"
test="$data/wikitext-2/test.txt"
flags=(--smoothing kn --order 5 --discount-fallback --skip-symbols)

ppl() { sed -n 's/^Perplexity including OOVs:\t//p'; }
size() { awk '/^ngram [0-9]+=/ { split($2, a, "="); s += a[2] } /^\\1-grams:/ { print s; exit }' "$1"; }
# score FILE: recur's perplexity, and KenLM's when built (they must agree)
score() {
    local r k=""
    r=$("$recur" ngram eval "$1" "$test" | ppl)
    if [[ -n $kenlm ]]; then
        k=$("$kenlm/query" -v summary "$1" < "$test" 2> /dev/null | ppl)
        awk -v a="$r" -v b="$k" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d / b > 1e-4) }' &&
            { echo "recur $r and KenLM $k disagree on $1" >&2; exit 1; }
    fi
    printf '%.2f' "$r"
}

"$recur" ngram train "$train" "${flags[@]}" -o "$work/full.arpa" > /dev/null
printf '| %-22s | %10s | %12s | %10s | %14s |\n' "count pruning (--prune)" "n-grams" "perplexity" "entropy threshold" "perplexity, same size"
printf '| --- | ---: | ---: | ---: | ---: |\n'
printf '| %-22s | %10s | %12s | %10s | %14s |\n' "none" "$(size "$work/full.arpa")" "$(score "$work/full.arpa")" "" ""
for prune in "0 0 0 1" "0 0 1" "0 1" "0 1 2" "0 2 2" "0 3 3"; do
    # shellcheck disable=SC2086
    "$recur" ngram train "$train" "${flags[@]}" --prune $prune -o "$work/count.arpa" > /dev/null
    n=$(size "$work/count.arpa")
    threshold=$("$recur" ngram train "$train" "${flags[@]}" --target-size "$n" -o "$work/entropy.arpa" |
        sed -n 's/.*; threshold //p')
    printf '| %-22s | %10s | %12s | %10s | %14s |\n' "$prune" "$n" "$(score "$work/count.arpa")" "$threshold" \
        "$(score "$work/entropy.arpa")"
done
