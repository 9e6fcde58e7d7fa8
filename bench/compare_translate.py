#!/usr/bin/env python3
"""Sequence-to-sequence translation (d2l.ai 1.0, 10.5-10.7 and 11.4), PyTorch side of recur's
comparison: d2l's data pipeline, model and training recipe, timed, with BLEU on a test set.

  torch-train   d2l's model and recipe on a split written by bench/translate_split.py:
      compare_translate.py torch-train --train T.tsv --valid V.tsv --test X.tsv --epochs E --batch 128 \
          --steps 12 --layers 2 --embed 256 --hidden 256 --dropout 0.2 --lr 0.005 --clip 1 --min-freq 2 \
          [--attention bahdanau] [--cell lstm] [--bidirectional] [--packed] [--threads N] \
          [--max-pairs N] [--seed S] [--decode-one N] [--save DIR]
    Prints per epoch the training loss (mean over target tokens), the validation loss and the
    training tokens/s (non-<pad> source + target tokens, <eos> included, over the epoch's wall time),
    then greedy-decodes the test set (num_steps = --steps, truncated at <eos>) and prints corpus BLEU-4
    and d2l's mean sentence BLEU (k=2), and greedy sentences/s in batches of --batch and one sentence
    at a time (the first --decode-one test sentences). Ends with one `name=value` line per metric:
    tokens_per_s=, train_loss=, valid_loss=, bleu4=, d2l_bleu2=, greedy_sentences_per_s_batch=,
    greedy_sentences_per_s_1=.
  torch-recipe  d2l's chapter recipe exactly: the first 641 lines of fra.txt (max_examples=640:
    512 training, 129 validation pairs), GRU 2 x 256, embedding 256, dropout 0.2, Adam 0.005, clipping
    1, batch 128, 9 steps, min-freq 2, 30 epochs; then the chapter's four translations and their BLEU.
      compare_translate.py torch-recipe [--data fra.txt] [--seed S] [--attention bahdanau] [--threads N]
    The model uses nn.LazyLinear and d2l's DataLoader like d2l, so torch.manual_seed(S) followed by
    d2l's own code on the CPU draws the same random numbers (checked against a verbatim copy of it).
  torch-bench   PyTorch's training tokens/s (--mode train) or greedy sentences/s (--mode greedy) on a
    pairs file, the twin of `recur bench translate`.
  compare       both side by side, alternating, in bench/compare_pytorch.py's environment:
      compare_translate.py compare --data split/train.tsv --recur build/recur --threads 2

Data: d2l 1.0's MTFraEng text processing (_preprocess, _tokenize, _build_arrays) and Vocab, copied
below. Differences from d2l for torch-train only: the vocabularies come from the training file alone
(d2l builds them over its 512 + 128 pairs together) and the validation and test files are mapped with
them (as d2l's MTFraEng.build maps new sentences); --min-freq replaces d2l's fixed 2.

Environment (set by the caller, for both sides alike): OMP_NUM_THREADS and OPENBLAS_NUM_THREADS
follow --threads unless already set (OpenBLAS ignores torch.set_num_threads). As
bench/compare_pytorch.py does: OPENBLAS_CORETYPE, OMP_WAIT_POLICY=passive, LD_LIBRARY_PATH=
/usr/lib/x86_64-linux-gnu/openblas-pthread. Export as well
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296
so that glibc keeps freed multi-megabyte blocks (logits [batch, steps, V] and their gradients) in
the heap instead of returning them to the kernel and page-faulting them in again every batch.

Needs torch (Debian's python3-torch: run with /usr/bin/python3); no other third-party package.
"""
import argparse
import collections
import math
import os
import sys
import time

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts")
DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data",
                            "fra-eng", "fra.txt")


# ---------------------------------------------------------------------------------------------
# d2l 1.0 MTFraEng text processing and Vocab (standard library only).

def preprocess(text):
    """d2l's MTFraEng._preprocess: lower case, spaces for non-breaking spaces, a space before , . ! ?"""
    # Replace non-breaking space with space
    text = text.replace('\u202f', ' ').replace('\xa0', ' ')
    # Insert space between words and punctuation marks
    no_space = lambda char, prev_char: char in ',.!?' and prev_char != ' '  # noqa: E731 (d2l's code)
    out = [' ' + char if i > 0 and no_space(char, text[i - 1]) else char
           for i, char in enumerate(text.lower())]
    return ''.join(out)


def tokenize(text, max_examples=None):
    """d2l's MTFraEng._tokenize: source (English) and target (French) token lists, <eos> appended.
    Note d2l's `i > max_examples`: max_examples=640 keeps 641 lines."""
    src, tgt = [], []
    for i, line in enumerate(text.split('\n')):
        if max_examples and i > max_examples:
            break
        parts = line.split('\t')
        if len(parts) == 2:
            # Skip empty tokens
            src.append([t for t in f'{parts[0]} <eos>'.split(' ') if t])
            tgt.append([t for t in f'{parts[1]} <eos>'.split(' ') if t])
    return src, tgt


class Vocab:
    """d2l's Vocab: the sorted set of tokens seen at least min_freq times, plus <unk> and reserved ones."""

    def __init__(self, tokens=[], min_freq=0, reserved_tokens=[]):
        # Flatten a 2D list if needed
        if tokens and isinstance(tokens[0], list):
            tokens = [token for line in tokens for token in line]
        # Count token frequencies
        counter = collections.Counter(tokens)
        self.token_freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
        # The list of unique tokens
        self.idx_to_token = list(sorted(set(['<unk>'] + reserved_tokens + [
            token for token, freq in self.token_freqs if freq >= min_freq])))
        self.token_to_idx = {token: idx for idx, token in enumerate(self.idx_to_token)}

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, self.unk)
        return [self.__getitem__(token) for token in tokens]

    def to_tokens(self, indices):
        return [self.idx_to_token[int(index)] for index in indices]

    @property
    def unk(self):  # Index for the unknown token
        return self.token_to_idx['<unk>']

    @staticmethod
    def from_list(tokens):
        """A vocabulary in a given index order (a recur model's config.json lists)."""
        vocab = Vocab()
        vocab.idx_to_token = list(tokens)
        vocab.token_to_idx = {token: idx for idx, token in enumerate(vocab.idx_to_token)}
        return vocab


def build_arrays(src, tgt, num_steps, min_freq=2, src_vocab=None, tgt_vocab=None):
    """d2l's MTFraEng._build_arrays on tokenized pairs: pad or trim to num_steps, prepend <bos> to
    targets, build the vocabularies when not given. Returns ((source, decoder input, source valid
    lengths, target), source vocab, target vocab)."""
    import torch

    def _build_array(sentences, vocab, is_tgt=False):
        pad_or_trim = lambda seq, t: (  # noqa: E731 (d2l's code)
            seq[:t] if len(seq) > t else seq + ['<pad>'] * (t - len(seq)))
        sentences = [pad_or_trim(s, num_steps) for s in sentences]
        if is_tgt:
            sentences = [['<bos>'] + s for s in sentences]
        if vocab is None:
            vocab = Vocab(sentences, min_freq=min_freq)
        array = torch.tensor([vocab[s] for s in sentences])
        valid_len = (array != vocab['<pad>']).type(torch.int32).sum(1)
        return array, vocab, valid_len

    src_array, src_vocab, src_valid_len = _build_array(src, src_vocab)
    tgt_array, tgt_vocab, _ = _build_array(tgt, tgt_vocab, True)
    return ((src_array, tgt_array[:, :-1], src_valid_len, tgt_array[:, 1:]), src_vocab, tgt_vocab)


def read_pairs(path, max_pairs=0):
    """A .tsv file from translate_split.py (raw fra.txt lines), preprocessed and tokenized as d2l."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    if max_pairs > 0:
        lines = lines[:max_pairs]
    return tokenize(preprocess('\n'.join(lines)))


# ---------------------------------------------------------------------------------------------
# BLEU

def d2l_bleu(pred_seq, label_seq, k):
    """d2l's bleu (10.7): per sentence, brevity penalty exp(min(0, 1 - len_label / len_pred)) times
    the product of the clipped n-gram precisions p_n^(1/2^n) for n <= k."""
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


def corpus_bleu(hypotheses, references, max_n=4):
    """Papineni et al.'s corpus BLEU with one reference each: clipped n-gram matches and n-gram counts
    summed over the corpus for n = 1..max_n, geometric mean of the precisions with equal weights, times
    the brevity penalty exp(1 - r/c) when the total hypothesis length c is below the total reference
    length r. No smoothing: 0 when some precision is 0."""
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for hyp, ref in zip(hypotheses, references):
        hyp_len += len(hyp)
        ref_len += len(ref)
        for n in range(1, max_n + 1):
            h = collections.Counter(tuple(hyp[i:i + n]) for i in range(len(hyp) - n + 1))
            r = collections.Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1))
            matches[n - 1] += sum(min(c, r[g]) for g, c in h.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    if hyp_len == 0 or min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return brevity * math.exp(log_precision)


# ---------------------------------------------------------------------------------------------
# PyTorch: d2l's Trainer loop, greedy translation

def set_threads(threads):
    """Before importing torch: OpenBLAS and OpenMP read their thread counts from the environment."""
    if threads > 0:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
    import torch
    if threads > 0:
        torch.set_num_threads(threads)
    return torch


def clip_gradients(torch, grad_clip_val, model):
    """d2l's Trainer.clip_gradients: rescale all gradients when their global norm exceeds the value."""
    params = [p for p in model.parameters() if p.requires_grad]
    norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
    if norm > grad_clip_val:
        for param in params:
            param.grad[:] *= grad_clip_val / norm


def fit(torch, model, train_arrays, valid_arrays, epochs, batch_size, lr, clip, pad, report):
    """d2l's Trainer.fit / fit_epoch with Seq2Seq.configure_optimizers (Adam): a DataLoader that
    reshuffles every epoch (last batch partial), then the validation batches in eval mode. Only the
    training batches are timed. report(epoch, train_loss, valid_loss, seconds) per epoch."""
    data = torch.utils.data
    train_loader = data.DataLoader(data.TensorDataset(*train_arrays), batch_size, shuffle=True)
    valid_loader = data.DataLoader(data.TensorDataset(*valid_arrays), batch_size, shuffle=False)
    optim = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        model.train()
        loss_sum = tokens = 0.0
        start = time.perf_counter()
        for batch in train_loader:
            loss = model.loss(model(*batch[:-1]), batch[-1])
            optim.zero_grad()
            with torch.no_grad():
                loss.backward()
                if clip > 0:
                    clip_gradients(torch, clip, model)
                optim.step()
            n = float((batch[-1] != pad).sum())  # the loss is a mean over these tokens
            loss_sum += loss.item() * n
            tokens += n
        seconds = time.perf_counter() - start
        model.eval()
        valid_sum = valid_tokens = 0.0
        for batch in valid_loader:  # d2l's validation_step (iterating also draws its random seed)
            with torch.no_grad():
                n = float((batch[-1] != pad).sum())
                valid_sum += model.loss(model(*batch[:-1]), batch[-1]).item() * n
                valid_tokens += n
        report(epoch, loss_sum / tokens, valid_sum / max(valid_tokens, 1.0), seconds)


def translate(torch, model, arrays, num_steps, batch_size, tgt_vocab, count=None):
    """Greedy translations (d2l's predict_step, eval mode, no autograd) of the first `count` rows in
    batches, cut at the first <eos>. Returns (token lists, seconds spent in predict_step)."""
    src, tgt_in, valid, tgt_out = arrays
    n = src.shape[0] if count is None else min(count, src.shape[0])
    model.eval()
    outputs, seconds = [], 0.0
    with torch.no_grad():
        for i in range(0, n, batch_size):
            j = min(i + batch_size, n)
            start = time.perf_counter()
            preds, _ = model.predict_step((src[i:j], tgt_in[i:j], valid[i:j], tgt_out[i:j]), 'cpu', num_steps)
            seconds += time.perf_counter() - start
            outputs.append(preds)
    sentences = []
    for row in torch.cat(outputs, 0).tolist():
        tokens = []
        for token in tgt_vocab.to_tokens(row):
            if token == '<eos>':
                break
            tokens.append(token)
        sentences.append(tokens)
    return sentences, seconds


def make_model(torch_seq2seq, args, src_vocab, tgt_vocab, lazy):
    return torch_seq2seq.build_model(args.cell, args.layers, args.hidden, args.embed, len(src_vocab),
                                     len(tgt_vocab), tgt_vocab['<pad>'], args.dropout, args.attention,
                                     args.bidirectional, lazy=lazy)


def import_torch_seq2seq():
    sys.path.insert(0, SCRIPTS)
    import torch_seq2seq
    return torch_seq2seq


def print_environment(torch):
    env = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
                                                     "OMP_WAIT_POLICY", "LD_LIBRARY_PATH", "GLIBC_TUNABLES")
                   if k in os.environ)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; env: {env or '(none of the usual)'}")


def torch_train(args):
    torch = set_threads(args.threads)
    torch_seq2seq = import_torch_seq2seq()
    print_environment(torch)
    src, tgt = read_pairs(args.train, args.max_pairs)
    (train_arrays, src_vocab, tgt_vocab) = build_arrays(src, tgt, args.steps, args.min_freq)
    valid_arrays = build_arrays(*read_pairs(args.valid), args.steps, args.min_freq, src_vocab, tgt_vocab)[0]
    test_src, test_tgt = read_pairs(args.test)
    test_arrays = build_arrays(test_src, test_tgt, args.steps, args.min_freq, src_vocab, tgt_vocab)[0]
    pad = tgt_vocab['<pad>']
    # Training tokens per epoch: real source tokens (valid lengths) and real target tokens, <eos> in both.
    epoch_tokens = int(train_arrays[2].sum()) + int((train_arrays[3] != pad).sum())
    print(f"pairs: train {len(src)}, valid {valid_arrays[0].shape[0]}, test {len(test_src)}; vocab: source "
          f"{len(src_vocab)}, target {len(tgt_vocab)}; steps {args.steps}; tokens per epoch {epoch_tokens}")

    torch.manual_seed(args.seed)
    # nn.LazyLinear as d2l (same random stream as d2l's code for a given seed)
    model = make_model(torch_seq2seq, args, src_vocab, tgt_vocab, lazy=True)
    model.set_packed(args.packed)
    print(f"model: {args.cell} {args.layers} x {args.hidden}{' bidirectional' if args.bidirectional else ''}"
          f"{' packed' if args.packed else ''}, embedding {args.embed}, attention {args.attention}, dropout "
          f"{args.dropout}; Adam lr {args.lr}, clip {args.clip}, batch {args.batch}, seed {args.seed}")
    history = []

    def report(epoch, train_loss, valid_loss, seconds):
        history.append((train_loss, valid_loss, seconds))
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {train_loss:.4f}, valid loss {valid_loss:.4f}, "
              f"{seconds:.1f} s, {epoch_tokens / seconds:.0f} tokens/s", flush=True)

    fit(torch, model, train_arrays, valid_arrays, args.epochs, args.batch, args.lr, args.clip, pad, report)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params}")
    if args.save:
        config = torch_seq2seq.make_config(args.cell, args.layers, args.hidden, args.embed, args.dropout,
                                           args.bidirectional, args.attention, src_vocab.idx_to_token,
                                           tgt_vocab.idx_to_token, args.steps)
        torch_seq2seq.save_model(args.save, model, config)
        print(f"saved the trained model to {args.save}")

    hyps, seconds_batch = translate(torch, model, test_arrays, args.steps, args.batch, tgt_vocab)
    refs = [t[:-1] for t in test_tgt]  # d2l's target tokens without the final <eos>
    bleu4 = corpus_bleu(hyps, refs)
    bleu2 = sum(d2l_bleu(' '.join(h), ' '.join(r), k=2) for h, r in zip(hyps, refs)) / len(refs)
    one = min(args.decode_one, len(test_src))
    _, seconds_one = translate(torch, model, test_arrays, args.steps, 1, tgt_vocab, count=one)
    for i in range(min(5, len(hyps))):
        print(f"  {' '.join(test_src[i][:-1])} => {' '.join(hyps[i])}   [{' '.join(refs[i])}]")
    total_seconds = sum(s for _, _, s in history)
    print(f"tokens_per_s={epoch_tokens * len(history) / total_seconds:.1f}")
    print(f"train_loss={history[-1][0]:.4f}")
    print(f"valid_loss={history[-1][1]:.4f}")
    print(f"bleu4={bleu4:.4f}")
    print(f"d2l_bleu2={bleu2:.4f}")
    print(f"greedy_sentences_per_s_batch={len(hyps) / seconds_batch:.1f}")
    print(f"greedy_sentences_per_s_1={one / seconds_one:.1f}")


RECIPE_ENGS = ['go .', 'i lost .', 'he\'s calm .', 'i\'m home .']
RECIPE_FRAS = ['va !', 'j\'ai perdu .', 'il est calme .', 'je suis chez moi .']


def torch_recipe(args):
    torch = set_threads(args.threads)
    torch_seq2seq = import_torch_seq2seq()
    print_environment(torch)
    num_train, num_val, num_steps = 512, 128, 9
    # d2l preprocesses the whole file and then stops at line num_train + num_val; preprocessing looks
    # one character back only, so preprocessing just those lines gives the same tokens, faster.
    with open(args.data, encoding='utf-8') as f:
        head = [next(f) for _ in range(num_train + num_val + 1)]
    src, tgt = tokenize(preprocess(''.join(head)), num_train + num_val)
    arrays, src_vocab, tgt_vocab = build_arrays(src, tgt, num_steps, 2)
    train_arrays = tuple(a[:num_train] for a in arrays)
    valid_arrays = tuple(a[num_train:] for a in arrays)
    print(f"pairs: train {train_arrays[0].shape[0]}, valid {valid_arrays[0].shape[0]}; vocab: source "
          f"{len(src_vocab)}, target {len(tgt_vocab)}")
    torch.manual_seed(args.seed)
    args.cell, args.layers, args.hidden, args.embed, args.dropout = 'gru', 2, 256, 256, 0.2
    args.bidirectional = False
    model = make_model(torch_seq2seq, args, src_vocab, tgt_vocab, lazy=True)
    losses = []
    fit(torch, model, train_arrays, valid_arrays, args.epochs, 128, 0.005, 1, tgt_vocab['<pad>'],
        lambda epoch, tl, vl, s: losses.append((tl, vl)))
    print(f"seed {args.seed}, attention {args.attention}: after {args.epochs} epochs train loss "
          f"{losses[-1][0]:.4f}, valid loss {losses[-1][1]:.4f}")
    # The chapter's evaluation: data.build(engs, fras), predict_step, cut at <eos>, bleu k=2
    e_src, e_tgt = tokenize(preprocess('\n'.join(e + '\t' + f for e, f in zip(RECIPE_ENGS, RECIPE_FRAS))))
    batch = build_arrays(e_src, e_tgt, num_steps, 2, src_vocab, tgt_vocab)[0]
    preds, _ = translate(torch, model, batch, num_steps, len(RECIPE_ENGS), tgt_vocab)
    for en, fr, p in zip(RECIPE_ENGS, RECIPE_FRAS, preds):
        print(f"{en} => {p}, bleu,{d2l_bleu(' '.join(p), fr, k=2):.3f}")


def torch_bench(args):
    """Throughput only, as `recur bench translate` measures it: training steps on shuffled batches of
    the whole training file for --seconds (after 2 untimed steps), then greedy decoding of the first
    --sentences pairs in batches of --batch and one at a time. Tokens are non-<pad> source + target
    tokens, <eos> included."""
    torch = set_threads(args.threads)
    torch_seq2seq = import_torch_seq2seq()
    src, tgt = read_pairs(args.data, args.max_pairs)
    if args.model:  # a trained recur model, its weights and vocabularies
        model, config = torch_seq2seq.load_model(args.model, dropout=args.dropout)
        vocabs = (Vocab.from_list(config["source_vocab"]), Vocab.from_list(config["target_vocab"]))
        (arrays, src_vocab, tgt_vocab) = build_arrays(src, tgt, args.steps, args.min_freq, *vocabs)
    else:
        (arrays, src_vocab, tgt_vocab) = build_arrays(src, tgt, args.steps, args.min_freq)
        torch.manual_seed(args.seed)
        model = make_model(torch_seq2seq, args, src_vocab, tgt_vocab, lazy=False)
    pad = tgt_vocab['<pad>']
    print(f"pairs={len(src)} source_vocab={len(src_vocab)} target_vocab={len(tgt_vocab)} threads={torch.get_num_threads()}")
    if args.mode == "train":
        data = torch.utils.data
        loader = data.DataLoader(data.TensorDataset(*arrays), args.batch, shuffle=True)
        optim = torch.optim.Adam(model.parameters(), lr=args.lr)
        model.train()
        steps = tokens = 0
        start = None
        for epoch in range(1000):
            for batch in loader:
                loss = model.loss(model(*batch[:-1]), batch[-1])
                optim.zero_grad()
                loss.backward()
                clip_gradients(torch, args.clip, model)
                optim.step()
                steps += 1
                if steps == 2:
                    start = time.perf_counter()
                elif steps > 2:
                    tokens += int(batch[2].sum()) + int((batch[-1] != pad).sum())
                    if time.perf_counter() - start >= args.seconds:
                        break
            if start is not None and time.perf_counter() - start >= args.seconds:
                break
        seconds = time.perf_counter() - start
        print(f"timed_steps={steps - 2} seconds={seconds:.3f}")
        print(f"tokens_per_s={tokens / seconds:.1f}")
    else:
        n = min(args.sentences, arrays[0].shape[0]) if args.sentences > 0 else arrays[0].shape[0]
        translate(torch, model, arrays, args.steps, args.decode_batch, tgt_vocab, count=min(n, 4))
        start = time.perf_counter()
        done = 0
        while True:
            _, _ = translate(torch, model, arrays, args.steps, args.decode_batch, tgt_vocab, count=n)
            done += n
            if time.perf_counter() - start >= args.seconds:
                break
        seconds = time.perf_counter() - start
        print(f"sentences={done} seconds={seconds:.3f}")
        print(f"sentences_per_s={done / seconds:.1f}")


def compare(args):
    """recur and PyTorch side by side on the same pairs, alternating, each in the environment
    bench/compare_pytorch.py uses; prints each side's figures and recur / PyTorch."""
    import re
    import subprocess
    has_avx512 = "avx512f" in open("/proc/cpuinfo").read()
    coretype = os.environ.get("OPENBLAS_CORETYPE", "SkylakeX" if has_avx512 else "Haswell")
    env = dict(os.environ, OPENBLAS_CORETYPE=coretype, OMP_WAIT_POLICY="passive",
               OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
               GLIBC_TUNABLES="glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296")
    openblas = "/usr/lib/x86_64-linux-gnu/openblas-pthread"
    if os.path.isdir(openblas):
        env["LD_LIBRARY_PATH"] = openblas + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"CPU: {cpu}; OPENBLAS_CORETYPE={coretype}; threads {args.threads}")
    common = ["--batch", str(args.batch), "--steps", str(args.steps), "--layers", str(args.layers),
              "--embed", str(args.embed), "--hidden", str(args.hidden), "--attention", args.attention,
              "--seconds", str(args.seconds), "--min-freq", str(args.min_freq)]
    rows = []
    for mode, batch, key in (("train", args.batch, "tokens_per_s"), ("greedy", args.batch, "sentences_per_s"),
                             ("greedy", 1, "sentences_per_s")):
        figures = {"recur": [], "torch": []}
        for _ in range(args.repeats):
            recur_cmd = [args.recur, "bench", "translate", "--data", args.data, "--mode", mode,
                         "--threads", str(args.threads)] + common
            torch_cmd = [sys.executable, os.path.abspath(__file__), "torch-bench", "--data", args.data,
                         "--mode", mode, "--threads", str(args.threads), "--decode-batch", str(batch)] + common
            if mode == "greedy":
                if args.model:
                    recur_cmd += ["--model", args.model]
                    torch_cmd += ["--model", args.model]
                sentences = str(args.sentences if batch > 1 else args.sentences_one)
                recur_cmd += ["--sentences", sentences]
                torch_cmd += ["--sentences", sentences]
                if batch == 1:
                    recur_cmd[recur_cmd.index("--batch") + 1] = "1"
            for side, cmd in (("recur", recur_cmd), ("torch", torch_cmd)):
                out = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    sys.exit(f"{side} failed: {' '.join(cmd)}\n{out.stdout}{out.stderr}")
                figures[side].append(float(re.search(key + r"=([0-9.]+)", out.stdout).group(1)))
        r, t = max(figures["recur"]), max(figures["torch"])
        label = "training tokens/s" if mode == "train" else f"greedy sentences/s, batch {batch}"
        rows.append((label, r, t))
        print(f"{label}: recur {r:.1f}, PyTorch {t:.1f}, ratio {r / t:.2f} (best of {args.repeats})", flush=True)
    print("| measure | recur | PyTorch | recur / PyTorch |\n|---|---|---|---|")
    for label, r, t in rows:
        print(f"| {label} | {r:.0f} | {t:.0f} | {r / t:.2f} |")


def main():
    p = argparse.ArgumentParser(description="d2l seq2seq translation: PyTorch side of recur's comparison")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("torch-train", help="d2l's model and recipe on a translate_split.py split, timed")
    t.add_argument("--train", required=True)
    t.add_argument("--valid", required=True)
    t.add_argument("--test", required=True)
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--steps", type=int, default=12, help="d2l's num_steps: pad or trim every sentence")
    t.add_argument("--layers", type=int, default=2)
    t.add_argument("--embed", type=int, default=256)
    t.add_argument("--hidden", type=int, default=256)
    t.add_argument("--dropout", type=float, default=0.2)
    t.add_argument("--lr", type=float, default=0.005)
    t.add_argument("--clip", type=float, default=1.0)
    t.add_argument("--min-freq", type=int, default=2)
    t.add_argument("--attention", choices=["none", "bahdanau"], default="none")
    t.add_argument("--cell", choices=["gru", "lstm"], default="gru")
    t.add_argument("--bidirectional", action="store_true", help="recur's bidirectional encoder")
    t.add_argument("--packed", action="store_true",
                   help="recur's packed encoder (state at each source's last real token) instead of d2l's")
    t.add_argument("--threads", type=int, default=0, help="0: torch's default")
    t.add_argument("--max-pairs", type=int, default=0, help="use only the first N training pairs (0: all)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--decode-one", type=int, default=300, help="test sentences timed at batch 1")
    t.add_argument("--save", help="write the trained model here in recur's format")

    r = sub.add_parser("torch-recipe", help="d2l's chapter recipe (641 pairs, 30 epochs) and its 4 translations")
    r.add_argument("--data", default=DEFAULT_DATA)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--epochs", type=int, default=30)
    r.add_argument("--attention", choices=["none", "bahdanau"], default="none")
    r.add_argument("--threads", type=int, default=0, help="0: torch's default")

    def shared(q):
        q.add_argument("--data", required=True, help="pairs file (e.g. translate_split.py's train.tsv)")
        q.add_argument("--batch", type=int, default=128)
        q.add_argument("--steps", type=int, default=12)
        q.add_argument("--layers", type=int, default=2)
        q.add_argument("--embed", type=int, default=256)
        q.add_argument("--hidden", type=int, default=256)
        q.add_argument("--attention", choices=["none", "bahdanau"], default="none")
        q.add_argument("--min-freq", type=int, default=2)
        q.add_argument("--seconds", type=float, default=10)
        q.add_argument("--threads", type=int, default=2)

    b = sub.add_parser("torch-bench", help="PyTorch's training tokens/s or greedy sentences/s (recur bench translate's twin)")
    shared(b)
    b.add_argument("--mode", choices=["train", "greedy"], default="train")
    b.add_argument("--decode-batch", type=int, default=128)
    b.add_argument("--sentences", type=int, default=2000)
    b.add_argument("--max-pairs", type=int, default=0)
    b.add_argument("--dropout", type=float, default=0.2)
    b.add_argument("--lr", type=float, default=0.005)
    b.add_argument("--clip", type=float, default=1.0)
    b.add_argument("--cell", choices=["gru", "lstm"], default="gru")
    b.add_argument("--bidirectional", action="store_true")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--model", help="a trained recur model folder (its weights and vocabularies)")

    c = sub.add_parser("compare", help="recur bench translate and torch-bench side by side, alternating")
    shared(c)
    c.add_argument("--recur", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "recur"))
    c.add_argument("--repeats", type=int, default=2)
    c.add_argument("--sentences", type=int, default=2000, help="greedy, batched: sentences per pass")
    c.add_argument("--sentences-one", type=int, default=300, help="greedy, batch 1: sentences per pass")
    c.add_argument("--model", help="a trained recur model folder both sides decode with (greedy rows)")
    args = p.parse_args()
    {"torch-train": torch_train, "torch-recipe": torch_recipe, "torch-bench": torch_bench,
     "compare": compare}[args.command](args)


if __name__ == "__main__":
    main()
