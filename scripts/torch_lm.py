#!/usr/bin/env python3
"""Independent PyTorch side of recur's checkpoint format (README "Checkpoint format").

  torch_lm.py '[{"action": "write", "dir": "DIR", "cell": "gru", "layers": 1, "embed": 0, "prefix": "1,2"}, ...]'
      "write" builds a model with PyTorch and saves DIR/model.safetensors (written with the standard
      library only) and DIR/config.json; "generate" loads a checkpoint written by recur into PyTorch.
      Each job gives, as JSON, the greedy continuation of the prefix ids and the logits at every prefix
      position. One call runs many jobs, since importing torch takes seconds.

Used by tests/lm/test_torch_roundtrip.cpp; needs torch (Debian's python3-torch).
"""
import argparse
import json
import struct
import sys

import torch
import torch.nn as nn


class LM(nn.Module):
    def __init__(self, cell, layers, hidden, embed, vocab):
        super().__init__()
        self.vocab, self.embed_size = vocab, embed
        if embed > 0:
            self.embedding = nn.Embedding(vocab, embed)
        inp = embed if embed > 0 else vocab
        if cell == "gru":
            self.rnn = nn.GRU(inp, hidden, layers)
        elif cell == "lstm":
            self.rnn = nn.LSTM(inp, hidden, layers)
        else:
            self.rnn = nn.RNN(inp, hidden, layers, nonlinearity=cell.split("_")[1])
        self.head = nn.Linear(hidden, vocab)

    def step(self, ids, state):
        x = torch.tensor(ids).unsqueeze(1)  # [T, 1]
        x = self.embedding(x) if self.embed_size > 0 else nn.functional.one_hot(x, self.vocab).float()
        out, state = self.rnn(x, state)
        return self.head(out[-1, 0]), state

    @torch.no_grad()
    def logits(self, ids):
        x = torch.tensor(ids).unsqueeze(1)
        x = self.embedding(x) if self.embed_size > 0 else nn.functional.one_hot(x, self.vocab).float()
        out, _ = self.rnn(x)
        return self.head(out[:, 0]).tolist()  # [T, V]

    @torch.no_grad()
    def greedy(self, prefix, length):
        logits, state = self.step(prefix, None)
        out = []
        for _ in range(length):
            nxt = int(torch.argmax(logits))
            out.append(nxt)
            logits, state = self.step([nxt], state)
        return out


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
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


def run_job(job):
    prefix = [int(s) for s in str(job.get("prefix", "1,2")).split(",")]
    length = int(job.get("length", 20))
    folder = job["dir"]
    if job["action"] == "write":
        torch.manual_seed(int(job.get("seed", 1)))
        cell, layers = job.get("cell", "gru"), int(job.get("layers", 1))
        hidden, embed, vocab = int(job.get("hidden", 8)), int(job.get("embed", 0)), int(job.get("vocab", 6))
        model = LM(cell, layers, hidden, embed, vocab)
        with torch.no_grad():  # larger weights than the default make the greedy path less uniform
            for prm in model.parameters():
                prm.mul_(3.0)
        save_safetensors(f"{folder}/model.safetensors", model.state_dict())
        config = {"cell": cell, "layers": layers, "hidden_size": hidden, "embedding_size": embed,
                  "dropout": 0.0, "level": "char", "mode": "raw",
                  "vocab": ["<unk>"] + [chr(ord("a") + i) for i in range(vocab - 1)], "unk": "<unk>"}
        with open(f"{folder}/config.json", "w") as f:
            json.dump(config, f)
    else:
        with open(f"{folder}/config.json") as f:
            c = json.load(f)
        model = LM(c["cell"], c["layers"], c["hidden_size"], c["embedding_size"], len(c["vocab"]))
        model.load_state_dict(load_safetensors(f"{folder}/model.safetensors"))
    return {"greedy": model.greedy(prefix, length), "logits": model.logits(prefix)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("jobs", help="JSON list of jobs: {action: write|generate, dir, cell, layers, hidden, embed, "
                                "vocab, seed, prefix: '1,2,3', length}")
    a = p.parse_args()
    json.dump([run_job(job) for job in json.loads(a.jobs)], sys.stdout)


if __name__ == "__main__":
    main()
