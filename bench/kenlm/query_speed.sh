#!/usr/bin/env bash
# Query speed of recur's binary n-gram model against KenLM's `query` on its binary (probing) form:
# the WikiText-2 5-gram (lmplz on valid.txt), scoring test.txt once and twenty times over, the two
# tools alternated run by run. Whole process = the 1x run; the query loop alone = (20x - 1x) / 19 in
# CPU seconds, which takes loading and process start out for both tools alike. Not part of the tests.
#
# Usage: bench/kenlm/query_speed.sh KENLM_BIN_DIR [RECUR_BINARY] [RUNS]
#   KENLM_BIN_DIR  OUT_DIR/bin of build_kenlm.sh (lmplz, query, build_binary)
#   RECUR_BINARY   default build/recur
#   RUNS           repetitions of each measurement, default 5
# Data: RECUR_DATA (first folder) or ../shared/data: wikitext-2/{valid,test}.txt.
set -euo pipefail
kenlm=$(cd "${1:?usage: $0 KENLM_BIN_DIR [RECUR_BINARY] [RUNS]}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
recur=$(realpath "${2:-$root/build/recur}")
runs=${3:-5}
data=${RECUR_DATA:-$root/../shared/data}
data=${data%%:*}
work=$(mktemp -d /tmp/query_speed.XXXXXX)
trap 'rm -rf "$work"' EXIT
export LC_ALL=C

"$kenlm/lmplz" -o 5 -S 100M --discount_fallback --skip_symbols < "$data/wikitext-2/valid.txt" > "$work/w5.arpa" 2> /dev/null
"$kenlm/build_binary" "$work/w5.arpa" "$work/w5.kenlm" > /dev/null 2>&1
"$recur" ngram build-binary "$work/w5.arpa" "$work/w5.rlm" > /dev/null
cp "$data/wikitext-2/test.txt" "$work/x1.txt"
for _ in $(seq 20); do cat "$data/wikitext-2/test.txt"; done > "$work/x20.txt"
tokens=$("$recur" ngram eval "$work/w5.rlm" "$work/x1.txt" | sed -n 's/^Tokens:\t//p')
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) vCPUs), load average $(cut -d' ' -f1 /proc/loadavg)"
echo "model files: KenLM $(stat -c %s "$work/w5.kenlm") bytes, recur $(stat -c %s "$work/w5.rlm") bytes; $tokens tokens per pass"

# measure TOOL FILE: "wall cpu" seconds of TOOL scoring FILE (cpu = user + system). On a shared
# machine the CPU seconds are the steadier measure: waiting for a core does not count.
measure() {
    if [[ $1 == KenLM ]]; then
        /usr/bin/time -f "%e %U %S" -o "$work/time" "$kenlm/query" -v summary "$work/w5.kenlm" < "$2" > "$work/out" 2> /dev/null
    else
        /usr/bin/time -f "%e %U %S" -o "$work/time" "$recur" ngram eval "$work/w5.rlm" "$2" > "$work/out"
    fi
    awk '{ printf "%s %.2f", $1, $2 + $3 }' "$work/time"
}
"$kenlm/query" -v summary "$work/w5.kenlm" < "$work/x1.txt" > "$work/k.out" 2> /dev/null
"$recur" ngram eval "$work/w5.rlm" "$work/x1.txt" > "$work/r.out"
cmp -s "$work/k.out" "$work/r.out" || { echo "the two tools print different summaries" >&2; diff "$work/k.out" "$work/r.out" >&2; exit 1; }

: > "$work/runs"
for ((i = 0; i < runs; ++i)); do  # alternated, so that both tools see the same load
    for tool in KenLM recur; do echo "$tool 1 $(measure "$tool" "$work/x1.txt")" >> "$work/runs"; done
    for tool in KenLM recur; do echo "$tool 20 $(measure "$tool" "$work/x20.txt")" >> "$work/runs"; done
done
# Per tool: medians of wall and CPU seconds for 1x and 10x, and the loop's CPU seconds per pass.
awk -v t="$tokens" '
    function median(list,   n, a, i, j, x) {
        n = split(list, a, " ")
        for (i = 2; i <= n; ++i) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; --j) a[j + 1] = a[j]; a[j + 1] = x }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { wall[$1, $2] = wall[$1, $2] " " $3; cpu[$1, $2] = cpu[$1, $2] " " $4 }
    END {
        split("KenLM recur", tools, " ")
        for (k = 1; k <= 2; ++k) {
            n = tools[k]
            loop = (median(cpu[n, 20]) - median(cpu[n, 1])) / 19
            printf "%-5s 1x: wall %.3f s, CPU %.3f s [%s]; 20x: wall %.3f s, CPU %.3f s [%s]; loop %.4f CPU s per pass = %.1f M tokens/s\n",
                n, median(wall[n, 1]), median(cpu[n, 1]), substr(cpu[n, 1], 2), median(wall[n, 20]), median(cpu[n, 20]),
                substr(cpu[n, 20], 2), loop, (loop > 0 ? t / loop / 1e6 : 0)
        }
    }' "$work/runs"
