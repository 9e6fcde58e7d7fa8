#!/usr/bin/env python3
"""Side-by-side quality check (issue: language models end to end): the same character-level GRU
language model trained by recur and by PyTorch (Debian's python3-torch) on The Time Machine, with
d2l 9.5's setting, and the validation perplexity of each after the same number of epochs.

Setting: d2l preprocessing, characters, first 90% of the token stream for training and the last 10%
for validation, batch 32, 35 steps, sequential partitioning (state carried, detached between
minibatches), one-hot input, GRU with 256 hidden units, linear head, mean cross-entropy, clipping at
global norm 1, SGD with learning rate 1. Validation perplexity is computed the same way on both
sides: the validation stream cut into 32 contiguous rows, each read from a zero state, every token but
a row's first predicted from its full history.

    bench/lm_quality_vs_pytorch.py [--epochs 10] [--threads 2] [--recur build/recur] [--data PATH]

Stops cleanly when torch is not installed.
"""
import argparse
import csv
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time

try:
    import torch
    import torch.nn as nn
except ImportError:
    print("PyTorch is not installed (Debian: apt-get install python3-torch); nothing compared.")
    sys.exit(0)

HERE = os.path.dirname(os.path.abspath(__file__))


def d2l_chars(path):
    text = re.sub("[^A-Za-z]+", " ", open(path, encoding="utf-8").read()).lower()
    counts = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    first = {}  # recur orders ties by first occurrence
    for i, ch in enumerate(text):
        first.setdefault(ch, i)
    vocab = ["<unk>"] + sorted(counts, key=lambda c: (-counts[c], first[c]))
    index = {t: i for i, t in enumerate(vocab)}
    return vocab, [index[c] for c in text]


def seq_batches(corpus, batch, steps, rng):
    offset = rng.randint(0, steps - 1)
    num_tokens = ((len(corpus) - offset - 1) // batch) * batch
    xs = torch.tensor(corpus[offset:offset + num_tokens]).reshape(batch, -1)
    ys = torch.tensor(corpus[offset + 1:offset + 1 + num_tokens]).reshape(batch, -1)
    for i in range(0, (xs.shape[1] // steps) * steps, steps):
        yield xs[:, i:i + steps], ys[:, i:i + steps]


class Model(nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.vocab = vocab
        self.rnn = nn.GRU(vocab, hidden)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state):  # x [T, B]
        out, state = self.rnn(nn.functional.one_hot(x, self.vocab).float(), state)
        return self.head(out.reshape(-1, out.shape[-1])), state


@torch.no_grad()
def valid_perplexity(model, ids, rows, steps):
    seg = len(ids) // rows
    data = torch.tensor(ids[:seg * rows]).reshape(rows, seg)
    state, nll, n = None, 0.0, 0
    for s in range(0, seg - 1, steps):
        t = min(steps, seg - 1 - s)
        x, y = data[:, s:s + t].T, data[:, s + 1:s + 1 + t].T
        logits, state = model(x, state)
        nll += nn.functional.cross_entropy(logits, y.reshape(-1), reduction="sum").item()
        n += y.numel()
    return math.exp(nll / n)


def train_torch(train, valid, vocab_size, epochs, seed):
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = Model(vocab_size, 256)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    ppl, t0, tokens = [], time.time(), 0
    for _ in range(epochs):
        state = None
        for x, y in seq_batches(train, 32, 35, rng):
            if state is not None:
                state = state.detach()
            logits, state = model(x.T, state)
            loss = nn.functional.cross_entropy(logits, y.T.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            tokens += y.numel()
        ppl.append(valid_perplexity(model, valid, 32, 35))
    return ppl, tokens / (time.time() - t0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--recur", default=os.path.join(HERE, "..", "build", "recur"))
    p.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data", "timemachine.txt"))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {a.threads} threads; BLAS: "
          + ", ".join(l.strip() for l in torch.__config__.show().splitlines() if "BLAS" in l)[:200])
    vocab, ids = d2l_chars(a.data)
    n_valid = int(len(ids) * 0.1)
    train, valid = ids[:len(ids) - n_valid], ids[len(ids) - n_valid:]
    print(f"data: {len(ids)} characters, vocabulary {len(vocab)}; {len(train)} train, {len(valid)} valid")

    with tempfile.TemporaryDirectory() as out:
        cmd = [a.recur, "train", "--data", a.data, "--level", "char", "--mode", "d2l", "--cell", "gru",
               "--hidden", "256", "--batch", "32", "--steps", "35", "--partition", "sequential",
               "--optimizer", "sgd", "--lr", "1", "--clip", "1", "--epochs", str(a.epochs),
               "--valid-fraction", "0.1", "--seed", str(a.seed), "--threads", str(a.threads),
               "--out", out, "--sample-length", "0"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = list(csv.DictReader(open(os.path.join(out, "metrics.csv"))))
    recur_ppl = [float(r["valid_perplexity"]) for r in rows]
    recur_tps = sum(float(r["tokens_per_s"]) for r in rows) / len(rows)
    torch_ppl, torch_tps = train_torch(train, valid, len(vocab), a.epochs, a.seed)
    print(f"{'epoch':>5} {'recur valid ppl':>16} {'pytorch valid ppl':>18}")
    for e, (r, t) in enumerate(zip(recur_ppl, torch_ppl), 1):
        print(f"{e:>5} {r:>16.3f} {t:>18.3f}")
    print(f"tokens/s: recur {recur_tps:.0f}, pytorch {torch_tps:.0f}")
    verdict = "no worse" if recur_ppl[-1] <= torch_ppl[-1] else "worse"
    print(f"after {a.epochs} epochs: recur {recur_ppl[-1]:.3f} vs pytorch {torch_ppl[-1]:.3f}: recur is {verdict}"
          " (initial weights and offsets differ between the two, so compare over several --seed values)")


if __name__ == "__main__":
    main()
