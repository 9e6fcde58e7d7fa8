#!/usr/bin/env python3
"""Fixed train / validation / test split of the Tatoeba English-French pairs (d2l's fra.txt), so that
recur and PyTorch (bench/compare_translate.py) train and evaluate on the same lines.

    bench/translate_split.py --data ../shared/data/fra-eng/fra.txt --pairs 100000 --valid 2000 \
        --test 2000 --seed 0 --out DIR

Takes the first --pairs lines of the file, shuffles them with random.Random(seed).shuffle, and writes
DIR/train.tsv (the first pairs - valid - test shuffled lines), DIR/valid.tsv (the next --valid) and
DIR/test.tsv (the last --test). Lines are copied byte for byte (read and written in binary, so no
newline or encoding translation); each file ends with a newline. Standard library only.
"""
import argparse
import os
import random
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="../shared/data/fra-eng/fra.txt", help="tab-separated pairs, one a line")
    p.add_argument("--pairs", type=int, default=100000, help="how many lines from the top of the file")
    p.add_argument("--valid", type=int, default=2000)
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="folder for train.tsv, valid.tsv, test.tsv")
    a = p.parse_args()

    with open(a.data, "rb") as f:
        # split on b"\n" only: str.splitlines would also split at U+2028 and friends inside a sentence
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the file's final newline
    if a.pairs > len(lines):
        sys.exit(f"translate_split: --pairs {a.pairs} but {a.data} has {len(lines)} lines")
    if a.valid + a.test >= a.pairs:
        sys.exit("translate_split: --valid + --test must leave training pairs")
    lines = lines[:a.pairs]
    random.Random(a.seed).shuffle(lines)
    n_train = a.pairs - a.valid - a.test
    parts = {"train.tsv": lines[:n_train], "valid.tsv": lines[n_train:n_train + a.valid],
             "test.tsv": lines[n_train + a.valid:]}
    os.makedirs(a.out, exist_ok=True)
    for name, part in parts.items():
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(b"".join(line + b"\n" for line in part))
        print(f"{os.path.join(a.out, name)}: {len(part)} pairs")


if __name__ == "__main__":
    main()
