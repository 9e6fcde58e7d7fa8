#!/usr/bin/env python3
"""Reference for tests/seq2seq: d2l 1.0's own machine-translation data code (d2l 10.5, MTFraEng:
_preprocess, _tokenize, _build_arrays' pad_or_trim, and d2l.Vocab) and its BLEU (d2l 10.7, bleu),
copied from the book (https://d2l.ai, d2l/torch.py of d2l 1.0.3) with only `self` removed; plus a
plain corpus BLEU (Papineni et al. 2002) and, where python3-nltk is installed, nltk's corpus_bleu.
Standard library only otherwise. The tests run it and skip when /usr/bin/python3 is missing.

    python3 scripts/d2l_mt_reference.py tokens FRA_TXT NUM_LINES NUM_STEPS MIN_FREQ   > JSON
    python3 scripts/d2l_mt_reference.py bleu < JOBS.json                                > JSON

`tokens` prints {"src": [[token...]...], "tgt": [...], "src_vocab": {token: count}, "tgt_vocab":
{...}} for the first NUM_LINES lines; a vocabulary maps each of d2l's idx_to_token to the count
d2l's Counter gave it (over the padded, trimmed sentences; <bos> prepended to targets).
`bleu` reads {"d2l": [[pred_tokens, label_tokens, k]...], "corpora": [[[hyp_tokens, ref_tokens]...]...]}
and prints {"d2l": [score...], "corpora": [{"own": {...}, "nltk": score or null}...]}.
"""
import collections
import json
import math
import sys


# ---- d2l 1.0, MTFraEng (d2l 10.5) ----------------------------------------------------------------

def _preprocess(text):
    # Replace non-breaking space with space
    text = text.replace('\u202f', ' ').replace('\xa0', ' ')
    # Insert space between words and punctuation marks
    no_space = lambda char, prev_char: char in ',.!?' and prev_char != ' '
    out = [' ' + char if i > 0 and no_space(char, text[i - 1]) else char
           for i, char in enumerate(text.lower())]
    return ''.join(out)


def _tokenize(text, max_examples=None):
    src, tgt = [], []
    for i, line in enumerate(text.split('\n')):
        if max_examples and i > max_examples: break
        parts = line.split('\t')
        if len(parts) == 2:
            # Skip empty tokens
            src.append([t for t in f'{parts[0]} <eos>'.split(' ') if t])
            tgt.append([t for t in f'{parts[1]} <eos>'.split(' ') if t])
    return src, tgt


class Vocab:
    """d2l 1.0's Vocabulary for text."""
    def __init__(self, tokens=[], min_freq=0, reserved_tokens=[]):
        # Flatten a 2D list if needed
        if tokens and isinstance(tokens[0], list):
            tokens = [token for line in tokens for token in line]
        # Count token frequencies
        counter = collections.Counter(tokens)
        self.token_freqs = sorted(counter.items(), key=lambda x: x[1],
                                  reverse=True)
        # The list of unique tokens
        self.idx_to_token = list(sorted(set(['<unk>'] + reserved_tokens + [
            token for token, freq in self.token_freqs if freq >= min_freq])))
        self.token_to_idx = {token: idx
                             for idx, token in enumerate(self.idx_to_token)}


def _build_array_vocab(sentences, num_steps, min_freq, is_tgt=False):
    # MTFraEng._build_arrays' _build_array, up to the vocabulary.
    pad_or_trim = lambda seq, t: (
        seq[:t] if len(seq) > t else seq + ['<pad>'] * (t - len(seq)))
    sentences = [pad_or_trim(s, num_steps) for s in sentences]
    if is_tgt:
        sentences = [['<bos>'] + s for s in sentences]
    vocab = Vocab(sentences, min_freq=min_freq)  # d2l: min_freq=2
    return vocab


# ---- d2l 1.0, BLEU (d2l 10.7) --------------------------------------------------------------------

def bleu(pred_seq, label_seq, k):  #@save
    """Compute the BLEU."""
    pred_tokens, label_tokens = pred_seq.split(' '), label_seq.split(' ')
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    score = math.exp(min(0, 1 - len_label / len_pred))
    for n in range(1, min(k, len_pred) + 1):
        num_matches, label_subs = 0, collections.defaultdict(int)
        for i in range(len_label - n + 1):
            label_subs[' '.join(label_tokens[i: i + n])] += 1
        for i in range(len_pred - n + 1):
            if label_subs[' '.join(pred_tokens[i: i + n])] > 0:
                num_matches += 1
                label_subs[' '.join(pred_tokens[i: i + n])] -= 1
        score *= math.pow(num_matches / (len_pred - n + 1), math.pow(0.5, n))
    return score


# ---- corpus BLEU ---------------------------------------------------------------------------------

def corpus_bleu_plain(pairs, max_n=4):
    """Papineni et al. 2002 with one reference: clipped matches and hypothesis n-grams summed over
    the corpus, geometric mean of the precisions, brevity penalty exp(1 - r/c) when c <= r."""
    matches, totals = [0] * max_n, [0] * max_n
    c = r = 0
    for hyp, ref in pairs:
        c += len(hyp)
        r += len(ref)
        for n in range(1, max_n + 1):
            hyp_grams = collections.Counter(tuple(hyp[i:i + n]) for i in range(len(hyp) - n + 1))
            ref_grams = collections.Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1))
            matches[n - 1] += sum(min(count, ref_grams[g]) for g, count in hyp_grams.items())
            totals[n - 1] += max(0, len(hyp) - n + 1)
    precisions = [m / t if t else 0.0 for m, t in zip(matches, totals)]
    bp = 1.0 if c > r else (0.0 if c == 0 else math.exp(1 - r / c))
    score = 0.0 if min(precisions) == 0 else bp * math.exp(math.fsum(math.log(p) / max_n for p in precisions))
    return {'score': score, 'precisions': precisions, 'matches': matches, 'totals': totals,
            'brevity_penalty': bp, 'hypothesis_length': c, 'reference_length': r}


def corpus_bleu_nltk(pairs):
    try:
        from nltk.translate.bleu_score import corpus_bleu
    except ImportError:
        return None
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return corpus_bleu([[ref] for _, ref in pairs], [hyp for hyp, _ in pairs])


# ---- commands ------------------------------------------------------------------------------------

def tokens_command(path, num_lines, num_steps, min_freq):
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')[:num_lines]
    # d2l preprocesses the whole text at once; the first num_lines lines are lines 0..num_lines-1,
    # which _tokenize reads with max_examples = num_lines - 1.
    src, tgt = _tokenize(_preprocess('\n'.join(lines)), num_lines - 1)
    out = {'src': src, 'tgt': tgt}
    for name, sentences, is_tgt in (('src_vocab', src, False), ('tgt_vocab', tgt, True)):
        vocab = _build_array_vocab(sentences, num_steps, min_freq, is_tgt)
        counts = dict(vocab.token_freqs)
        out[name] = {token: counts.get(token, 0) for token in vocab.idx_to_token}
    json.dump(out, sys.stdout)


def bleu_command(jobs):
    out = {'d2l': [bleu(' '.join(pred), ' '.join(label), k) for pred, label, k in jobs['d2l']],
           'corpora': [{'own': corpus_bleu_plain(pairs), 'nltk': corpus_bleu_nltk(pairs)}
                       for pairs in jobs['corpora']]}
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    if len(sys.argv) == 6 and sys.argv[1] == 'tokens':
        tokens_command(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) == 2 and sys.argv[1] == 'bleu':
        bleu_command(json.load(sys.stdin))
    else:
        sys.exit(__doc__)
