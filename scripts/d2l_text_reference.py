#!/usr/bin/env python3
"""Reference figures for tests/text: d2l's own preprocessing, Vocab and n-gram code re-run on The Time
Machine (d2l 9.2 and 9.3), plus the first edition's per-line reading and the Zipf fits recur prints.
Dev-only: the tests hold the numbers and never run Python.

    python3 scripts/d2l_text_reference.py /work/shared/data/timemachine.txt
"""
import collections
import math
import re
import sys


def vocab_order(tokens):
    # d2l first edition Vocab: Counter, then a stable sort by count (ties keep first occurrence).
    return sorted(collections.Counter(tokens).items(), key=lambda x: x[1], reverse=True)


def zipf_alpha(counts, min_rank=10, max_rank=0, min_count=2):
    pts = [(math.log10(r), math.log10(c)) for r, c in enumerate(counts, 1)
           if r >= min_rank and (max_rank == 0 or r <= max_rank) and c >= min_count]
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxy = sum((x - mx) * (y - my) for x, y in pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return -sxy / sxx, n


def main(path):
    raw = open(path).read()
    text = re.sub('[^A-Za-z]+', ' ', raw).lower()  # d2l 9.2 TimeMachine._preprocess
    chars = list(text)
    print('char tokens', len(chars), 'vocab with <unk>', len(set(chars)) + 1)
    print('char vocab order', ['<unk>'] + [t for t, _ in vocab_order(chars)])
    words = text.split()
    print('word tokens', len(words), 'vocab with <unk>', len(set(words)) + 1)
    freqs = vocab_order(words)
    print('words seen >= 2 times', sum(1 for _, c in freqs if c >= 2), 'seen once', sum(1 for _, c in freqs if c == 1))
    for n in (1, 2, 3):
        grams = ['--'.join(g) for g in zip(*[words[i:len(words) - n + 1 + i] for i in range(n)])]
        top = vocab_order(grams)
        counts = [c for _, c in top]
        print(f'{n}-grams', len(grams), 'distinct', len(top), top[:10])
        print(f'  zipf alpha (ranks >= 10, count >= 2): {zipf_alpha(counts)[0]:.4f}')
    # First edition read_time_machine: per line, stripped.
    lines = [re.sub('[^A-Za-z]+', ' ', line).strip().lower() for line in raw.split('\n')]
    kept = [line for line in lines if line]
    print('first edition: non-empty lines', len(kept), 'char tokens', sum(len(line) for line in kept))


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else '../shared/data/timemachine.txt')
