#!/usr/bin/env python3
"""Independent PyTorch side of recur's sequence-to-sequence models (d2l.ai 1.0, sections 10.5-10.7
and 11.4): d2l's Seq2Seq, written out here with d2l's module and parameter names, plus the options
recur adds (LSTM cells, a packed and a bidirectional encoder).

    torch_seq2seq.py '[{"action": "write", "dir": "DIR", ...}, {"action": "run", "dir": "DIR", ...}]'
    torch_seq2seq.py --self-test

One call runs many jobs (importing torch takes seconds) and prints a JSON list with one result per
job on stdout. Jobs:

  write  {"dir", "cell": "gru"|"lstm", "layers", "hidden", "embed", "src_vocab": n, "tgt_vocab": m,
          "attention": "none"|"bahdanau", "bidirectional": bool, "seed": s,
          optional "dropout" (stored in config.json, default 0), "steps" (default 9),
          "scale" (multiplies every parameter after init, default 1), and "batch", "packed",
          "greedy_steps" as for run}
         Builds the model with d2l's initialisation after torch.manual_seed(seed), writes
         DIR/model.safetensors and DIR/config.json (recur's model folder; vocabularies "<unk>",
         "<pad>", "<bos>", "<eos>", "w4", "w5", ...). Returns {"names": state_dict keys in file
         order} plus, when "batch" is given, everything "run" returns.
  run    {"dir", "batch": {"source": [[ids]] (unpadded rows), "decoder_input": [[ids]] (equal
          lengths, starting with <bos>), "target": [[ids]]}, "packed": bool, "greedy_steps": k}
         Loads DIR (strict load_state_dict) and runs in eval mode. Returns {"logits": [B][T][V]
         (teacher forcing), "loss": masked mean cross-entropy against target, "greedy": [B][k]
         (d2l's predict_step: <bos>, then argmax for k steps, no truncation at <eos>), and with
         attention "attention_weights": [B][k][S] of the greedy run}.
         "packed": false is d2l's code exactly (the encoder runs over the <pad> tail of shorter
         sources; valid lengths still mask attention). "packed": true packs the encoder input
         (torch.nn.utils.rnn.pack_padded_sequence), so each source's state and context come from its
         last real token, as in recur. Both agree when no source in the batch is padded.
  grad   as run, in train mode with dropout 0: returns {"loss", "logits", "grads": {name: gradient}}.

Model folder (recur's format): DIR/config.json {"format": "recur-seq2seq", "version": 1, "cell",
"layers", "hidden_size" (per encoder direction), "embedding_size", "dropout", "bidirectional",
"attention", "source_vocab", "target_vocab", "unk", "pad", "bos", "eos", "steps", "level", "mode"}
and DIR/model.safetensors (F32, row-major, PyTorch's state_dict names), read and written here with the
standard library only.

Used by recur's tests (python3-torch, Debian's /usr/bin/python3) and by bench/compare_translate.py.
"""
import json
import math
import os
import struct
import sys
import tempfile
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# nn.LazyLinear (used only when lazy=True, to reproduce a d2l training run's random stream) warns
# that lazy modules are experimental; that is no news here.
warnings.filterwarnings("ignore", message="Lazy modules are a new feature")
# nn.GRU(dropout>0) with one layer warns that the dropout does nothing; recur's config allows it too.
warnings.filterwarnings("ignore", message="dropout option adds dropout after all but last")

RNN_CLASSES = {"gru": nn.GRU, "lstm": nn.LSTM}


# ---------------------------------------------------------------------------------------------
# d2l's model (chapter 10.7 and 11.4), generalised only where recur is.

def init_seq2seq(module):
    """d2l's init_seq2seq, also applied to LSTMs: Xavier-uniform on Linear and RNN weight matrices.

    d2l calls it (module.apply) while its dense and attention layers are still uninitialised
    nn.LazyLinear, whose type is not nn.Linear: in d2l only the GRU weights get Xavier, and the
    Linear layers get PyTorch's default init when they materialise. See apply_d2l_init."""
    if type(module) == nn.Linear:
        nn.init.xavier_uniform_(module.weight)
    if type(module) in (nn.GRU, nn.LSTM):
        for param in module._flat_weights_names:
            if "weight" in param:
                nn.init.xavier_uniform_(module._parameters[param])


def apply_d2l_init(module, lazy):
    """module.apply(init_seq2seq) as d2l runs it. With lazy=True the Linear layers are LazyLinear (no
    Xavier, as in d2l); with eager nn.Linear layers they are skipped so that they keep PyTorch's
    default init, the same distribution LazyLinear draws when it materialises."""
    if lazy:
        module.apply(init_seq2seq)
    else:
        for m in module.modules():
            if type(m) != nn.Linear:
                init_seq2seq(m)


def make_linear(in_features, out_features, bias, lazy):
    # d2l uses nn.LazyLinear(out_features); recur's files need the shapes up front, and an eager
    # nn.Linear has the same parameters (and the same default init distribution).
    if lazy:
        return nn.LazyLinear(out_features, bias=bias)
    return nn.Linear(in_features, out_features, bias=bias)


def state_h(state):
    """The hidden-state tensor [layers, B, H] of a GRU state or of an LSTM's (h, c)."""
    return state[0] if isinstance(state, tuple) else state


def merge_directions(state):
    """Bidirectional encoder state [2L, B, H] (layer 0 forward, layer 0 reverse, ...) to the
    decoder's [L, B, 2H]: layer k is cat(forward, reverse) along the feature axis. For an LSTM the
    same is done to h and c."""
    if isinstance(state, tuple):
        return tuple(merge_directions(s) for s in state)
    two_l, batch, hidden = state.shape
    return state.reshape(two_l // 2, 2, batch, hidden).permute(0, 2, 1, 3).reshape(two_l // 2, batch, 2 * hidden)


class GRU(nn.Module):
    """d2l.GRU: wraps the torch RNN as self.rnn (hence the names encoder.rnn.rnn.*). Holds an
    nn.LSTM instead for cell "lstm", and a bidirectional RNN for recur's bidirectional encoder."""

    def __init__(self, num_inputs, num_hiddens, num_layers, dropout=0, cell="gru", bidirectional=False):
        super().__init__()
        self.rnn = RNN_CLASSES[cell](num_inputs, num_hiddens, num_layers, dropout=dropout,
                                     bidirectional=bidirectional)

    def forward(self, inputs, H=None):
        return self.rnn(inputs, H)


def masked_softmax(X, valid_lens):
    """d2l's masked_softmax: entries past each row's valid length are set to -1e6 before the softmax."""
    def _sequence_mask(X, valid_len, value=0):
        maxlen = X.size(1)
        mask = torch.arange((maxlen), dtype=torch.float32, device=X.device)[None, :] < valid_len[:, None]
        X[~mask] = value
        return X

    if valid_lens is None:
        return nn.functional.softmax(X, dim=-1)
    shape = X.shape
    if valid_lens.dim() == 1:
        valid_lens = torch.repeat_interleave(valid_lens, shape[1])
    else:
        valid_lens = valid_lens.reshape(-1)
    X = _sequence_mask(X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
    return nn.functional.softmax(X.reshape(shape), dim=-1)


class AdditiveAttention(nn.Module):
    """d2l 11.3's additive (Bahdanau) attention. Queries and keys both have num_hiddens features here."""

    def __init__(self, num_hiddens, dropout, lazy=False):
        super().__init__()
        self.W_k = make_linear(num_hiddens, num_hiddens, False, lazy)
        self.W_q = make_linear(num_hiddens, num_hiddens, False, lazy)
        self.w_v = make_linear(num_hiddens, 1, False, lazy)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens):
        queries, keys = self.W_q(queries), self.W_k(keys)
        # queries [B, q, 1, h] + keys [B, 1, k, h], broadcast to [B, q, k, h]
        features = queries.unsqueeze(2) + keys.unsqueeze(1)
        features = torch.tanh(features)
        scores = self.w_v(features).squeeze(-1)  # [B, q, k]
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)


class Seq2SeqEncoder(nn.Module):
    """d2l's Seq2SeqEncoder. recur's options: cell, bidirectional, and `packed` (set on the instance):
    pack the padded batch by valid length so that the final state is each row's last real token."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, cell="gru",
                 bidirectional=False, lazy=False):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = GRU(embed_size, num_hiddens, num_layers, dropout, cell, bidirectional)
        self.packed = False
        apply_d2l_init(self, lazy)

    def forward(self, X, *args):
        # X shape: (batch_size, num_steps); args[0], when given, the valid lengths
        embs = self.embedding(X.t().type(torch.int64))  # (num_steps, batch_size, embed_size)
        if not self.packed:
            outputs, state = self.rnn(embs)  # d2l: runs over the <pad> tail too
        else:
            lengths = args[0].to("cpu", torch.int64)
            packed = pack_padded_sequence(embs, lengths, enforce_sorted=False)
            outputs, state = self.rnn(packed)  # state in the batch's own order, at each last token
            # Zeros past each row's length; attention masks those positions anyway.
            outputs, _ = pad_packed_sequence(outputs, total_length=embs.shape[0])
        # outputs (num_steps, batch_size, directions * num_hiddens);
        # state (directions * num_layers, batch_size, num_hiddens), or (h, c) for an LSTM
        return outputs, state


class Seq2SeqDecoder(nn.Module):
    """d2l's Seq2SeqDecoder: the context (the encoder's top-layer final hidden state) is fed with the
    embedding at every step. With a packed or bidirectional encoder init_state takes the context
    from the encoder's final state (its last real token; cat(forward, reverse) of the top layer)
    instead of d2l's enc_output[-1] (the last, possibly padded, position), and gives the decoder
    layer k the state cat(h_n[2k], h_n[2k+1])."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, cell="gru", lazy=False):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout, cell)
        self.dense = make_linear(num_hiddens, vocab_size, True, lazy)
        self.packed_encoder = False  # set by Seq2Seq.set_packed
        self.bidirectional_encoder = False
        apply_d2l_init(self, lazy)

    def init_state(self, enc_all_outputs, *args):
        if not (self.packed_encoder or self.bidirectional_encoder):
            return enc_all_outputs  # d2l
        _, state = enc_all_outputs
        if self.bidirectional_encoder:
            state = merge_directions(state)
        # forward() reads the context as enc_output[-1]: hand it a one-step "output" that is the
        # top layer's final hidden state.
        return [state_h(state)[-1].unsqueeze(0), state]

    def forward(self, X, state):
        # X shape: (batch_size, num_steps)
        embs = self.embedding(X.t().type(torch.int32))  # (num_steps, batch_size, embed_size)
        enc_output, hidden_state = state
        context = enc_output[-1]  # (batch_size, num_hiddens)
        # Broadcast context to (num_steps, batch_size, num_hiddens)
        context = context.repeat(embs.shape[0], 1, 1)
        embs_and_context = torch.cat((embs, context), -1)  # embedding first, then context
        outputs, hidden_state = self.rnn(embs_and_context, hidden_state)
        outputs = self.dense(outputs).swapaxes(0, 1)  # (batch_size, num_steps, vocab_size)
        return outputs, [enc_output, hidden_state]


class Seq2SeqAttentionDecoder(nn.Module):
    """d2l 11.4's decoder with Bahdanau attention over the encoder outputs. Its RNN is not wrapped
    (names decoder.rnn.weight_ih_l0). With a bidirectional encoder num_hiddens is 2H and the state
    of layer k is cat(h_n[2k], h_n[2k+1])."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, cell="gru", lazy=False):
        super().__init__()
        self.attention = AdditiveAttention(num_hiddens, dropout, lazy)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = RNN_CLASSES[cell](embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = make_linear(num_hiddens, vocab_size, True, lazy)
        self.packed_encoder = False
        self.bidirectional_encoder = False
        self._attention_weights = []
        apply_d2l_init(self, lazy)

    def init_state(self, enc_outputs, enc_valid_lens):
        # Shape of outputs: (num_steps, batch_size, num_hiddens).
        # Shape of hidden_state: (num_layers, batch_size, num_hiddens)
        outputs, hidden_state = enc_outputs
        if self.bidirectional_encoder:
            hidden_state = merge_directions(hidden_state)
        return (outputs.permute(1, 0, 2), hidden_state, enc_valid_lens)

    def forward(self, X, state):
        # Shape of enc_outputs: (batch_size, num_steps, num_hiddens).
        enc_outputs, hidden_state, enc_valid_lens = state
        # Shape of the output X: (num_steps, batch_size, embed_size)
        X = self.embedding(X).permute(1, 0, 2)
        outputs, self._attention_weights = [], []
        for x in X:
            # Shape of query: (batch_size, 1, num_hiddens); an LSTM's query is its h, not c
            query = torch.unsqueeze(state_h(hidden_state)[-1], dim=1)
            # Shape of context: (batch_size, 1, num_hiddens)
            context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)
            # Concatenate on the feature dimension: context first here
            x = torch.cat((context, torch.unsqueeze(x, dim=1)), dim=-1)
            # Reshape x as (1, batch_size, embed_size + num_hiddens)
            out, hidden_state = self.rnn(x.permute(1, 0, 2), hidden_state)
            outputs.append(out)
            self._attention_weights.append(self.attention.attention_weights)
        # After fully connected layer transformation, shape of outputs:
        # (num_steps, batch_size, vocab_size)
        outputs = self.dense(torch.cat(outputs, dim=0))
        return outputs.permute(1, 0, 2), [enc_outputs, hidden_state, enc_valid_lens]

    @property
    def attention_weights(self):
        return self._attention_weights


class Seq2Seq(nn.Module):
    """d2l's EncoderDecoder + Seq2Seq (forward, masked loss, predict_step); the optimiser and
    training loop are in bench/compare_translate.py."""

    def __init__(self, encoder, decoder, tgt_pad):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.tgt_pad = tgt_pad

    def set_packed(self, packed):
        self.encoder.packed = bool(packed)
        self.decoder.packed_encoder = bool(packed)

    def forward(self, enc_X, dec_X, *args):
        enc_all_outputs = self.encoder(enc_X, *args)
        dec_state = self.decoder.init_state(enc_all_outputs, *args)
        # Return decoder output only
        return self.decoder(dec_X, dec_state)[0]

    def loss(self, Y_hat, Y):
        # d2l's Classifier.loss(averaged=False), then the mean over non-<pad> target tokens
        l = F.cross_entropy(Y_hat.reshape((-1, Y_hat.shape[-1])), Y.reshape((-1,)), reduction="none")
        mask = (Y.reshape(-1) != self.tgt_pad).type(torch.float32)
        return (l * mask).sum() / mask.sum()

    def predict_step(self, batch, device, num_steps, save_attention_weights=False):
        """d2l's greedy predict_step: feeds tgt[:, 0] (<bos>) and then each argmax, num_steps times."""
        batch = [a.to(device) for a in batch]
        src, tgt, src_valid_len, _ = batch
        enc_all_outputs = self.encoder(src, src_valid_len)
        dec_state = self.decoder.init_state(enc_all_outputs, src_valid_len)
        outputs, attention_weights = [tgt[:, (0)].unsqueeze(1), ], []
        for _ in range(num_steps):
            Y, dec_state = self.decoder(outputs[-1], dec_state)
            outputs.append(Y.argmax(2))
            # Save attention weights (to be covered later)
            if save_attention_weights:
                attention_weights.append(self.decoder.attention_weights)
        return torch.cat(outputs[1:], 1), attention_weights


def build_model(cell, layers, hidden, embed, src_vocab, tgt_vocab, tgt_pad, dropout=0.0,
                attention="none", bidirectional=False, lazy=False):
    """The encoder, then the decoder, as d2l's chapter builds them (the order fixes the random
    stream). lazy=True uses nn.LazyLinear as d2l does (a training run then draws the same random
    numbers as d2l's code); lazy=False gives eager layers with the same shapes, needed to load files."""
    encoder = Seq2SeqEncoder(src_vocab, embed, hidden, layers, dropout, cell, bidirectional, lazy)
    dec_hidden = 2 * hidden if bidirectional else hidden
    if attention == "bahdanau":
        decoder = Seq2SeqAttentionDecoder(tgt_vocab, embed, dec_hidden, layers, dropout, cell, lazy)
    elif attention == "none":
        decoder = Seq2SeqDecoder(tgt_vocab, embed, dec_hidden, layers, dropout, cell, lazy)
    else:
        raise ValueError(f"unknown attention {attention!r}")
    decoder.bidirectional_encoder = bool(bidirectional)
    return Seq2Seq(encoder, decoder, tgt_pad)


# ---------------------------------------------------------------------------------------------
# recur's model folder: config.json and a safetensors file, standard library only (as torch_lm.py).

def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def load_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        assert info["dtype"] == "F32", info["dtype"]
        t = torch.frombuffer(bytearray(blob[8 + n + begin:8 + n + end]), dtype=torch.float32)
        out[name] = t.reshape(info["shape"])
    return out


def synthetic_vocab(size):
    # The reserved tokens first, so that <unk>=0, <pad>=1, <bos>=2, <eos>=3 as recur's tests use them.
    return ["<unk>", "<pad>", "<bos>", "<eos>"] + [f"w{i}" for i in range(4, size)]


def make_config(cell, layers, hidden, embed, dropout, bidirectional, attention, source_vocab,
                target_vocab, steps, unk="<unk>", pad="<pad>", bos="<bos>", eos="<eos>"):
    return {"format": "recur-seq2seq", "version": 1, "cell": cell, "layers": layers,
            "hidden_size": hidden, "embedding_size": embed, "dropout": dropout,
            "bidirectional": bool(bidirectional), "attention": attention,
            "source_vocab": list(source_vocab), "target_vocab": list(target_vocab),
            "unk": unk, "pad": pad, "bos": bos, "eos": eos, "steps": steps,
            "level": "word", "mode": "d2l-mt"}


def save_model(folder, model, config):
    os.makedirs(folder, exist_ok=True)
    save_safetensors(os.path.join(folder, "model.safetensors"), model.state_dict())
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=1)


def load_model(folder, dropout=None):
    """The model and config of a folder; dropout overrides the config's (grad uses 0)."""
    with open(os.path.join(folder, "config.json")) as f:
        c = json.load(f)
    if c.get("format", "recur-seq2seq") != "recur-seq2seq":
        raise ValueError(f"{folder}: not a recur-seq2seq model ({c.get('format')})")
    model = build_model(c["cell"], c["layers"], c["hidden_size"], c["embedding_size"],
                        len(c["source_vocab"]), len(c["target_vocab"]), c["target_vocab"].index(c["pad"]),
                        c.get("dropout", 0.0) if dropout is None else dropout, c.get("attention", "none"),
                        c.get("bidirectional", False))
    model.load_state_dict(load_safetensors(os.path.join(folder, "model.safetensors")), strict=True)
    return model, c


# ---------------------------------------------------------------------------------------------
# Jobs

def batch_tensors(batch, config):
    """Sources padded with <pad> to the longest, their lengths, and the decoder input and target."""
    src_pad = config["source_vocab"].index(config["pad"])
    rows = batch["source"]
    steps = max(len(r) for r in rows)
    src = torch.tensor([list(r) + [src_pad] * (steps - len(r)) for r in rows], dtype=torch.int64)
    valid = torch.tensor([len(r) for r in rows], dtype=torch.int32)  # d2l's src_valid_len is int32
    dec_in = torch.tensor(batch["decoder_input"], dtype=torch.int64)
    target = torch.tensor(batch["target"], dtype=torch.int64)
    return src, dec_in, valid, target


def run_model(model, config, batch, packed, greedy_steps, grad=False):
    model.set_packed(packed)
    src, dec_in, valid, target = batch_tensors(batch, config)
    out = {}
    if grad:
        model.train()  # dropout is 0 in the loaded model
        model.zero_grad(set_to_none=True)
        logits = model(src, dec_in, valid)
        loss = model.loss(logits, target)
        loss.backward()
        out["loss"] = loss.item()
        out["logits"] = logits.detach().tolist()
        out["grads"] = {name: p.grad.tolist() for name, p in model.named_parameters()}
        return out
    model.eval()
    with torch.no_grad():
        logits = model(src, dec_in, valid)
        out["logits"] = logits.tolist()
        out["loss"] = model.loss(logits, target).item()
        if greedy_steps > 0:
            bos = config["target_vocab"].index(config["bos"])
            start = torch.full((src.shape[0], 1), bos, dtype=torch.int64)
            attention = config.get("attention", "none") == "bahdanau"
            preds, weights = model.predict_step((src, start, valid, start), "cpu", greedy_steps,
                                                save_attention_weights=attention)
            out["greedy"] = preds.tolist()
            if attention:
                # one [B, 1, S] per step (the decoder runs one step per call) -> [B, k, S]
                out["attention_weights"] = torch.cat([w[0] for w in weights], 1).tolist()
    return out


def run_job(job):
    folder = job["dir"]
    packed = bool(job.get("packed", False))
    greedy_steps = int(job.get("greedy_steps", 0))
    action = job["action"]
    if action == "write":
        torch.manual_seed(int(job.get("seed", 1)))
        cell, layers = job.get("cell", "gru"), int(job.get("layers", 1))
        hidden, embed = int(job.get("hidden", 8)), int(job.get("embed", 8))
        src_vocab = synthetic_vocab(int(job.get("src_vocab", 10)))
        tgt_vocab = synthetic_vocab(int(job.get("tgt_vocab", 12)))
        attention, bidirectional = job.get("attention", "none"), bool(job.get("bidirectional", False))
        dropout = float(job.get("dropout", 0.0))
        config = make_config(cell, layers, hidden, embed, dropout, bidirectional, attention, src_vocab, tgt_vocab,
                             int(job.get("steps", 9)))
        model = build_model(cell, layers, hidden, embed, len(src_vocab), len(tgt_vocab),
                            tgt_vocab.index("<pad>"), dropout, attention, bidirectional)
        scale = float(job.get("scale", 1.0))
        if scale != 1.0:
            with torch.no_grad():
                for p in model.parameters():
                    p.mul_(scale)
        save_model(folder, model, config)
        out = {"names": list(model.state_dict().keys())}
        if "batch" in job:
            # run what was written, as "run" would load it
            model, config = load_model(folder)
            out.update(run_model(model, config, job["batch"], packed, greedy_steps))
        return out
    if action in ("run", "grad"):
        model, config = load_model(folder, dropout=0.0 if action == "grad" else None)
        return run_model(model, config, job["batch"], packed, greedy_steps, grad=action == "grad")
    raise ValueError(f"unknown action {action!r}")


# ---------------------------------------------------------------------------------------------
# Self-test: python3 scripts/torch_seq2seq.py --self-test

SELF_TEST_CONFIGS = [
    dict(cell="gru", layers=2, attention="none", bidirectional=False),
    dict(cell="gru", layers=2, attention="bahdanau", bidirectional=False),
    dict(cell="lstm", layers=2, attention="none", bidirectional=False),
    dict(cell="lstm", layers=1, attention="bahdanau", bidirectional=False),
    dict(cell="gru", layers=2, attention="none", bidirectional=True),
    dict(cell="gru", layers=2, attention="bahdanau", bidirectional=True),
    dict(cell="lstm", layers=2, attention="bahdanau", bidirectional=True),
]

PADDED_BATCH = {"source": [[4, 5, 6, 3], [7, 3], [8, 9, 4, 5, 3]],
                "decoder_input": [[2, 4, 5, 6], [2, 7, 8, 1], [2, 9, 10, 11]],
                "target": [[4, 5, 6, 3], [7, 8, 3, 1], [9, 10, 11, 3]]}
FULL_BATCH = {"source": [[4, 5, 6, 3], [7, 8, 9, 3]],
              "decoder_input": [[2, 4, 5], [2, 6, 7]], "target": [[4, 5, 3], [6, 7, 3]]}


def self_test():
    torch.set_num_threads(1)
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print("FAIL", what)

    def all_finite(x):
        if isinstance(x, list):
            return all(all_finite(v) for v in x)
        if isinstance(x, dict):
            return all(all_finite(v) for v in x.values())
        return not isinstance(x, float) or math.isfinite(x)

    def close(a, b, tol=1e-5):
        if isinstance(a, list):
            return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
        return abs(a - b) <= tol * (1 + abs(b))

    with tempfile.TemporaryDirectory() as tmp:
        for i, cfg in enumerate(SELF_TEST_CONFIGS):
            what = ",".join(f"{k}={v}" for k, v in cfg.items())
            d = os.path.join(tmp, f"m{i}")
            job = dict(action="write", dir=d, hidden=6, embed=5, src_vocab=10, tgt_vocab=12, seed=3, dropout=0.2,
                       batch=PADDED_BATCH, packed=True, greedy_steps=5, **cfg)
            w = run_job(job)
            print(what)
            print("  keys:", " ".join(w["names"]))
            check(all_finite(w), what + ": finite")
            # The written file loads back bit for bit.
            torch.manual_seed(3)  # the same seed rebuilds the same weights
            again = build_model(cfg["cell"], cfg["layers"], 6, 5, 10, 12, 1, 0.2, cfg["attention"],
                                cfg["bidirectional"])
            loaded = load_safetensors(os.path.join(d, "model.safetensors"))
            check(list(loaded) == list(again.state_dict()), what + ": names in state_dict order")
            check(all(torch.equal(loaded[k], v) for k, v in again.state_dict().items()),
                  what + ": safetensors round trip bit-identical")
            # run is deterministic and equals what write returned.
            r1 = run_job(dict(action="run", dir=d, batch=PADDED_BATCH, packed=True, greedy_steps=5))
            r2 = run_job(dict(action="run", dir=d, batch=PADDED_BATCH, packed=True, greedy_steps=5))
            check(r1 == r2, what + ": run deterministic")
            check(r1 == {k: v for k, v in w.items() if k != "names"}, what + ": write's run == run")
            # packed and d2l's unpacked encoder agree with no padding, differ with padding.
            p = run_job(dict(action="run", dir=d, batch=FULL_BATCH, packed=True, greedy_steps=4))
            u = run_job(dict(action="run", dir=d, batch=FULL_BATCH, packed=False, greedy_steps=4))
            check(close(p["logits"], u["logits"]) and p["greedy"] == u["greedy"] and close(p["loss"], u["loss"]),
                  what + ": packed == unpacked without padding")
            up = run_job(dict(action="run", dir=d, batch=PADDED_BATCH, packed=False, greedy_steps=5))
            check(not close(up["logits"], r1["logits"]), what + ": packed != unpacked with padding")
            # A padded row's results do not depend on the padding when packed: run it alone.
            alone = {k: [v[1]] for k, v in PADDED_BATCH.items()}
            a = run_job(dict(action="run", dir=d, batch=alone, packed=True, greedy_steps=5))
            check(close(a["logits"][0], r1["logits"][1]) and a["greedy"][0] == r1["greedy"][1],
                  what + ": packed row independent of the batch's padding")
            if cfg["attention"] == "bahdanau":
                aw = r1["attention_weights"]
                check(len(aw) == 3 and len(aw[0]) == 5 and len(aw[0][0]) == 5, what + ": attention shape")
                check(all(abs(v) < 1e-6 for v in aw[1][0][2:]), what + ": masked attention is 0")
                check(all(close(sum(row), 1.0) for b in aw for row in b), what + ": attention rows sum to 1")
            # grad: finite, one entry per parameter, and a central difference agrees on one weight.
            g = run_job(dict(action="grad", dir=d, batch=PADDED_BATCH, packed=True))
            check(list(g["grads"]) == [n for n in w["names"]], what + ": grad names")
            check(all_finite(g), what + ": grad finite")
            model, config = load_model(d, dropout=0.0)
            model.set_packed(True)
            model.train()
            src, dec_in, valid, target = batch_tensors(PADDED_BATCH, config)
            name = "encoder.embedding.weight"
            param = dict(model.named_parameters())[name]
            eps = 1e-2
            with torch.no_grad():
                param[4, 0] += eps
                lp = model.loss(model(src, dec_in, valid), target).item()
                param[4, 0] -= 2 * eps
                lm = model.loss(model(src, dec_in, valid), target).item()
            numeric = (lp - lm) / (2 * eps)
            check(abs(numeric - g["grads"][name][4][0]) < 1e-3 + 1e-2 * abs(numeric),
                  what + f": gradient check {numeric} vs {g['grads'][name][4][0]}")
    print("self-test:", "FAILED " + "; ".join(failures) if failures else "all passed")
    return 1 if failures else 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        sys.exit(self_test())
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) == 2 else 2)
    json.dump([run_job(job) for job in json.loads(sys.argv[1])], sys.stdout)


if __name__ == "__main__":
    main()
