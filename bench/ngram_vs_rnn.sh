#!/usr/bin/env bash
# d2l 9.3's comparison made concrete: Kneser-Ney n-grams of orders 2-5 beside a word-level and a
# character-level recurrent model, all scored on the same held-out words of The Time Machine.
#
#   bench/ngram_vs_rnn.sh build/recur [THREADS]
#
# Data: as bench/kenlm/compare_kenlm.sh (d2l's letters-only lowercase lines, non-empty lines, the
# first 90% train, the rest evaluated). So that every model predicts the same tokens:
#  - the words are a closed vocabulary: a word seen once in the training lines, or never, is the
#    ordinary word `unk` in both files (no OOVs: every model predicts every token, `unk` included);
#  - every line ends with a token both kinds predict: `</s>` for the n-grams (lmplz's convention),
#    `<eos>` for the word RNN (recur's word corpora end every line with it, as PyTorch's
#    word_language_model does), so both predict the same words and sentence ends;
#  - the character model reads the same closed-vocabulary lines (newline = end of sentence), and its
#    perplexity per word is exp(total cross-entropy of the characters / the number of words and
#    sentence ends), the usual conversion (the words the others predict, spelled out).
# The recurrent models choose their best epoch on the last 10% of the training tokens.
set -euo pipefail
recur=${1:?usage: ngram_vs_rnn.sh RECUR [THREADS]}
threads=${2:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
data=${RECUR_DATA:-$root/../shared/data}
data=${data%%:*}
work=$(mktemp -d /tmp/ngram_vs_rnn.XXXXXX)
trap 'rm -rf "$work"' EXIT
export LC_ALL=C

awk '{ gsub(/[^A-Za-z]+/, " "); sub(/^ +/, ""); sub(/ +$/, ""); if (length($0) > 0) print tolower($0) }' \
    "$data/timemachine.txt" > "$work/tm.txt"
lines=$(wc -l < "$work/tm.txt")
train_lines=$((lines * 9 / 10))
head -n "$train_lines" "$work/tm.txt" > "$work/raw.train"
tail -n +"$((train_lines + 1))" "$work/tm.txt" > "$work/raw.test"
# Words seen at least twice in training keep their name; the others become `unk`.
awk 'NR == FNR { for (i = 1; i <= NF; ++i) ++count[$i]; next }
     { line = ""; for (i = 1; i <= NF; ++i) line = line (i > 1 ? " " : "") (count[$i] >= 2 ? $i : "unk"); print line }' \
    "$work/raw.train" "$work/raw.train" > "$work/train.txt"
awk 'NR == FNR { for (i = 1; i <= NF; ++i) ++count[$i]; next }
     { line = ""; for (i = 1; i <= NF; ++i) line = line (i > 1 ? " " : "") (count[$i] >= 2 ? $i : "unk"); print line }' \
    "$work/raw.train" "$work/raw.test" > "$work/test.txt"
words=$(($(wc -w < "$work/test.txt") + $(wc -l < "$work/test.txt")))  # words and sentence ends
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) vCPUs), recur --threads $threads"
echo "The Time Machine: $train_lines training lines, $((lines - train_lines)) evaluated," \
    "$words tokens predicted ($(wc -l < "$work/test.txt") of them sentence ends);" \
    "$(tr ' ' '\n' < "$work/train.txt" | sort -u | wc -l) word types"
echo
echo "| model | parameters | test perplexity per word |"
echo "| --- | ---: | ---: |"
for order in 2 3 4 5; do
    "$recur" ngram train "$work/train.txt" --smoothing kn --order "$order" --discount-fallback \
        -o "$work/kn$order.arpa" > /dev/null
    ppl=$("$recur" ngram eval "$work/kn$order.arpa" "$work/test.txt" | sed -n 's/^Perplexity including OOVs:\t//p')
    ngrams=$(sed -n 's/^ngram [0-9]*=//p' "$work/kn$order.arpa" | paste -sd+ | bc)
    printf '| Kneser-Ney, order %s | %s n-grams | %.2f |\n' "$order" "$ngrams" "$ppl"
done

# recur eval prints "tokens scored: N" and "perplexity: P"; training's log the parameter count.
train_rnn() {  # NAME ARGS...: trains, then prints "perplexity tokens parameters" on the test text
    local name=$1; shift
    "$recur" --threads "$threads" train "$@" --valid-fraction 0.1 --sample-length 0 --force \
        --out "$work/$name" > "$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; exit 1; }
    "$recur" --threads "$threads" eval --model "$work/$name" "$work/test.txt" > "$work/$name.eval"
    sed -n 's/.*(\([0-9]*\) parameters).*/\1/p' "$work/$name.log" | head -n 1 > "$work/$name.params"
}
word_args=(--data "$work/train.txt" --level word --mode raw --embed 128 --dropout 0.3 --batch 32
    --steps 35 --optimizer adam --lr 0.002 --clip 1 --epochs 40 --patience 4)
train_rnn word-lstm "${word_args[@]}" --cell lstm --hidden 256
train_rnn word-gru "${word_args[@]}" --cell gru --hidden 256
train_rnn char-gru --data "$work/train.txt" --level char --mode raw --cell gru --hidden 256 \
    --batch 32 --steps 35 --optimizer adam --lr 0.002 --clip 1 --epochs 60 --patience 5 --dropout 0.1 --embed 32
for name in word-lstm word-gru char-gru; do
    ppl=$(sed -n 's/^perplexity: //p' "$work/$name.eval")
    tokens=$(sed -n 's/^tokens scored: //p' "$work/$name.eval")
    if [[ $name == char* ]]; then  # per character -> per word: exp(tokens * ln P / words)
        ppl=$(awk -v p="$ppl" -v n="$tokens" -v w="$words" 'BEGIN { printf "%.4f", exp(n * log(p) / w) }')
    fi
    printf '| recur %s, 256 hidden | %s | %.2f |\n' "$name" "$(cat "$work/$name.params")" "$ppl"
done
