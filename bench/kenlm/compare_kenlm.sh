#!/usr/bin/env bash
# recur vs KenLM on the same files: modified Kneser-Ney estimation (recur ngram train --smoothing kn vs
# lmplz -S 100M), the ARPA files, perplexity under KenLM's query and recur's eval, estimation wall time
# and peak memory. Needs KenLM built by bench/kenlm/build_kenlm.sh; not part of the tests.
#
# Usage: bench/kenlm/compare_kenlm.sh KENLM_BIN_DIR [RECUR_BINARY]
#   KENLM_BIN_DIR  OUT_DIR/bin of build_kenlm.sh (lmplz, query)
#   RECUR_BINARY   default build/recur
# Data: RECUR_DATA (first folder) or ../shared/data: timemachine.txt, wikitext-2/{valid,test}.txt.
#   The Time Machine: d2l preprocessing (re.sub('[^A-Za-z]+', ' ', line).strip().lower()), non-empty
#     lines, first 90% train, the rest evaluated; orders 2, 3, 5.
#   WikiText-2: train on valid.txt, evaluate on test.txt as they are; orders 2, 3, 5. The text holds
#     <unk>, which lmplz refuses, so both tools get --skip-symbols (the <unk> read as whitespace).
# Both tools get --discount-fallback: orders whose closed-form discounts fail (The Time Machine's
# 5-grams) use D = 0.5, 1, 1.5 in both; the others are unaffected.
set -euo pipefail
kenlm=$(cd "${1:?usage: $0 KENLM_BIN_DIR [RECUR_BINARY]}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
recur=$(realpath "${2:-$root/build/recur}")
data=${RECUR_DATA:-$root/../shared/data}
data=${data%%:*}
for f in "$kenlm/lmplz" "$kenlm/query" "$recur" /usr/bin/time; do
    [[ -x $f ]] || { echo "missing $f" >&2; exit 1; }
done
work=$(mktemp -d /tmp/compare_kenlm.XXXXXX)
trap 'rm -rf "$work"' EXIT
export LC_ALL=C

awk '{ gsub(/[^A-Za-z]+/, " "); sub(/^ +/, ""); sub(/ +$/, ""); if (length($0) > 0) print tolower($0) }' \
    "$data/timemachine.txt" > "$work/tm.txt"
lines=$(wc -l < "$work/tm.txt")
train_lines=$((lines * 9 / 10))
head -n "$train_lines" "$work/tm.txt" > "$work/tm.train"
tail -n +"$((train_lines + 1))" "$work/tm.txt" > "$work/tm.test"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) vCPUs)"
echo "The Time Machine: $lines non-empty lines, $train_lines train, $((lines - train_lines)) evaluated"
echo

ppl() { sed -n 's/^Perplexity including OOVs:\t//p'; }
# rel A B: |A - B| / |B|
rel() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; printf "%.2e", d / b }'; }
# timed OUT_PREFIX CMD...: runs CMD, leaves "seconds kilobytes" in OUT_PREFIX.time
timed() {
    local out=$1
    shift
    /usr/bin/time -f "%e %M" -o "$out.time" "$@"
}

failures=0
printf '%-30s %5s  %-14s %-14s %-14s %-9s %-9s %-9s  %-14s %-14s\n' dataset order "ppl lmplz" "ppl recur(KenLM)" \
    "ppl recur eval" "rel diff" "same ARPA" "KenLM ok" "lmplz s / MB" "recur s / MB"
# run NAME ORDER TRAIN TEST SKIP_SYMBOLS(yes|no) [PRUNE THRESHOLDS...]
run() {
    local name=$1 order=$2 train=$3 test=$4 skip=$5
    shift 5
    local base="$work/$name.o$order${1:+.prune$(printf '%s' "$@")}"
    local lmplz_flags=(-o "$order" -S 100M --discount_fallback)
    local recur_flags=(--smoothing kn --order "$order" --discount-fallback)
    if [[ $skip == yes ]]; then
        lmplz_flags+=(--skip_symbols)
        recur_flags+=(--skip-symbols)
    fi
    if [[ $# -gt 0 ]]; then
        lmplz_flags+=(--prune "$@")
        recur_flags+=(--prune "$@")
        name="$name --prune $*"
    fi
    timed "$base.lmplz" "$kenlm/lmplz" "${lmplz_flags[@]}" < "$train" > "$base.lmplz.arpa" 2> "$base.lmplz.log"
    timed "$base.recur" "$recur" ngram train "$train" "${recur_flags[@]}" -o "$base.recur.arpa" > "$base.recur.log"
    local p_lmplz p_recur_kenlm p_recur same kenlm_ok=yes
    p_lmplz=$("$kenlm/query" -v summary "$base.lmplz.arpa" < "$test" 2>/dev/null | ppl)
    if ! p_recur_kenlm=$("$kenlm/query" -v summary "$base.recur.arpa" < "$test" 2>"$base.query.err" | ppl) || [[ -z $p_recur_kenlm ]]; then
        kenlm_ok=no
        failures=$((failures + 1))
    fi
    p_recur=$("$recur" ngram eval "$base.recur.arpa" "$test" | ppl)
    same=no
    cmp -s "$base.lmplz.arpa" "$base.recur.arpa" && same=yes
    local worst
    worst=$(awk -v a="$(rel "$p_recur_kenlm" "$p_lmplz")" -v b="$(rel "$p_recur" "$p_lmplz")" 'BEGIN { print (a > b ? a : b) }')
    if awk -v w="$worst" 'BEGIN { exit !(w > 1e-4) }'; then failures=$((failures + 1)); fi
    read -r lt lm < "$base.lmplz.time"
    read -r rt rm < "$base.recur.time"
    printf '%-30s %5s  %-14.8g %-16.8g %-14.8g %-9s %-9s %-9s  %-14s %-14s\n' "$name" "$order" "$p_lmplz" "$p_recur_kenlm" \
        "$p_recur" "$worst" "$same" "$kenlm_ok" "$lt / $((lm / 1024))" "$rt / $((rm / 1024))"
}
for order in 2 3 5; do run timemachine "$order" "$work/tm.train" "$work/tm.test" no; done
for order in 2 3 5; do run wikitext-2 "$order" "$data/wikitext-2/valid.txt" "$data/wikitext-2/test.txt" yes; done
# Count pruning (lmplz --prune): singleton bigrams and above, and from trigrams on with 2 for 5-grams.
run timemachine 3 "$work/tm.train" "$work/tm.test" no 0 1
run wikitext-2 5 "$data/wikitext-2/valid.txt" "$data/wikitext-2/test.txt" yes 0 0 1 1 2
# Scoring WikiText-2 test with the 5-gram: from the ARPA file and from each tool's binary form.
base="$work/wikitext-2.o5"
"$kenlm/build_binary" "$base.lmplz.arpa" "$base.kenlm.bin" > /dev/null 2>&1
"$recur" ngram build-binary "$base.recur.arpa" "$base.recur.rlm" > /dev/null
echo
echo "scoring wikitext-2/test.txt with the 5-gram (whole process; s / MB):"
for form in arpa binary; do
    if [[ $form == arpa ]]; then k="$base.lmplz.arpa" r="$base.recur.arpa"; else k="$base.kenlm.bin" r="$base.recur.rlm"; fi
    timed "$work/q.kenlm" "$kenlm/query" -v summary "$k" < "$data/wikitext-2/test.txt" > "$work/q.kenlm.out" 2>/dev/null
    timed "$work/q.recur" "$recur" ngram eval "$r" "$data/wikitext-2/test.txt" > "$work/q.recur.out"
    read -r kt km < "$work/q.kenlm.time"
    read -r rt rm < "$work/q.recur.time"
    same=no
    cmp -s "$work/q.kenlm.out" "$work/q.recur.out" && same=yes
    printf '  %-7s KenLM query %s / %s   recur ngram eval %s / %s   same four lines: %s\n' "$form" "$kt" "$((km / 1024))" \
        "$rt" "$((rm / 1024))" "$same"
    [[ $same == yes ]] || failures=$((failures + 1))
done
echo
echo "ppl: query -v summary 'Perplexity including OOVs'; rel diff: the larger of |recur - lmplz| / lmplz over KenLM's"
echo "query on recur's ARPA and recur's own eval; same ARPA: byte-identical files; s / MB: wall seconds and peak RSS"
echo "(/usr/bin/time -v's maximum resident set size) of estimation."
if [[ $failures -gt 0 ]]; then
    echo "FAILED: $failures comparison(s) beyond 1e-4 or not loaded by KenLM" >&2
    exit 1
fi
echo "all perplexities agree within 1e-4; KenLM's query loads every recur ARPA"
