#!/usr/bin/env bash
# Remakes the seed corpora of the fuzz targets that read what recur writes (model folders,
# training states, run settings) from a tiny real run: a 1-layer GRU of hidden size 4 with the
# default training options (fuzz/fuzz_train_state.cpp assumes that shape); and of the translation
# targets (seq2seq_folder, translate_settings) from two tiny `recur translate train` runs.
# Usage: scripts/make-fuzz-seeds.sh [RECUR_BINARY]   (default build/recur)
set -euo pipefail
cd "$(dirname "$0")/.."
recur=${1:-build/recur}
run=$(mktemp -d /tmp/recur-seed.XXXXXX)
trap 'rm -rf "$run"' EXIT
"$recur" train --data tests/data/text/hello_utf8.txt --valid tests/data/text/hello_utf8.txt --cell gru \
  --hidden 4 --epochs 1 --batch 2 --steps 4 --out "$run/tiny" --force >/dev/null
# fuzz_train_state loads with the default options (batch 32, steps 35): a second run with those.
"$recur" train --data timemachine --cell gru --hidden 4 --epochs 1 --time-budget 1 --out "$run/default" --force >/dev/null
# Translation: a 1-layer GRU and a 2-layer bidirectional LSTM with attention, hidden size 4, one
# epoch on ten of fra.txt's pairs.
printf '%s\t%s\n' "Go." "Va !" "Hi." "Salut !" "Run!" "Cours !" "Who?" "Qui ?" "I lost." "J'ai perdu." \
  "I'm home." "Je suis chez moi." "He's calm." "Il est calme." "Go now." "Va, maintenant." "Wait!" "Attends !" \
  "I see." "Je comprends." >"$run/pairs.tsv"
mt=(translate train --data "$run/pairs.tsv" --valid-pairs 2 --min-freq 1 --hidden 4 --embed 4 --batch 4 --steps 6
  --epochs 1 --threads 1 --force)
"$recur" "${mt[@]}" --layers 1 --out "$run/mt" >/dev/null
"$recur" "${mt[@]}" --cell lstm --layers 2 --bidirectional --attention bahdanau --out "$run/mt_attention" >/dev/null
python3 - "$run" <<'PY'
import os, struct, sys
run = sys.argv[1]
def pack(first, second, out):
    a, b = open(first, 'rb').read(), open(second, 'rb').read()
    assert len(a) < 65536
    os.makedirs(os.path.dirname(out), exist_ok=True)
    open(out, 'wb').write(struct.pack('<H', len(a)) + a + b)
for name in ('tiny', 'default'):
    for folder in ('best', 'checkpoint'):
        d = f'{run}/{name}/{folder}'
        pack(f'{d}/config.json', f'{d}/model.safetensors', f'fuzz/corpus/model_folder/{name}_{folder}.bin')
    d = f'{run}/{name}/checkpoint'
    pack(f'{d}/train_state.json', f'{d}/train_state.safetensors', f'fuzz/corpus/train_state/{name}.bin')
    os.makedirs('fuzz/corpus/run_settings', exist_ok=True)
    open(f'fuzz/corpus/run_settings/{name}.json', 'wb').write(open(f'{run}/{name}/run.json', 'rb').read())
for name in ('mt', 'mt_attention'):
    d = f'{run}/{name}/best'
    pack(f'{d}/config.json', f'{d}/model.safetensors', f'fuzz/corpus/seq2seq_folder/{name}.bin')
    os.makedirs('fuzz/corpus/translate_settings', exist_ok=True)
    settings = open(f'{run}/{name}/run.json').read().replace(f'{run}/', '')  # "data": "pairs.tsv"
    open(f'fuzz/corpus/translate_settings/{name}.json', 'w').write(settings)
PY
echo "seeds written under fuzz/corpus/{model_folder,train_state,run_settings,seq2seq_folder,translate_settings}"
