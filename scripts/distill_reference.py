#!/usr/bin/env python3
"""Reference implementation (numpy) of what crates/baton-embed does in Rust.

  table OUT      distils the static table (format: crates/baton-embed/src/table.rs docs)
  vectors OUT    sentence embeddings of tests/fixtures/reference_sentences.txt (JSON)
  tokens IN OUT  tokenizer fixture: one JSON per line {"text", "ids"} from the `tokenizers` package

Needs numpy, scipy, safetensors and tokenizers (scripts/fetch-model.sh gets the model).
Usage: python3 scripts/distill_reference.py [--model models/all-MiniLM-L6-v2] COMMAND ...
"""
import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from scipy.special import erf
from tokenizers import Tokenizer

DIMS = 128
SIF_COEFFICIENT = 1e-5
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


class Bert:
    def __init__(self, folder, dtype):
        self.cfg = json.loads((folder / "config.json").read_text())
        self.w = {k: v.astype(dtype) for k, v in load_file(folder / "model.safetensors").items()
                  if k != "embeddings.position_ids"}
        self.eps = self.cfg["layer_norm_eps"]

    def ln(self, x, name):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def lin(self, x, name):
        # one 2-D product: numpy would otherwise loop over the batch with small products
        y = x.reshape(-1, x.shape[-1]) @ self.w[name + ".weight"].T + self.w[name + ".bias"]
        return y.reshape(*x.shape[:-1], -1)

    def forward(self, ids, mask):
        """ids, mask: (B, L) -> mean-pooled last hidden state (B, H), not normalised."""
        w, (b, n) = self.w, ids.shape
        heads = self.cfg["num_attention_heads"]
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self.ln(x, "embeddings.LayerNorm")
        hd = x.shape[-1] // heads
        bias = ((1.0 - mask[:, None, None, :]) * np.finfo(x.dtype).min).astype(x.dtype)
        for i in range(self.cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            split = lambda t: t.reshape(b, n, heads, hd).transpose(0, 2, 1, 3)
            q, k, v = (split(self.lin(x, p + "attention.self." + s)) for s in ("query", "key", "value"))
            s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, n, -1)
            x = self.ln(x + self.lin(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = self.lin(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))
            x = self.ln(x + self.lin(h, p + "output.dense"), p + "output.LayerNorm")
        m = mask[:, :, None].astype(x.dtype)
        return (x * m).sum(1) / m.sum(1)


def fnv1a(data: bytes) -> int:
    h = 0x811C9DC5
    for c in data:
        h = ((h ^ c) * 0x01000193) & 0xFFFFFFFF
    return h


def kept_tokens(vocab, tok):
    """Tokens the tokenizer can produce from text and that carry meaning (no specials, no [unusedN])."""
    norm = tok.normalizer
    keep = []
    for t, i in sorted(vocab.items(), key=lambda kv: kv[1]):
        body = t[2:] if t.startswith("##") and len(t) > 2 else t
        if t in SPECIAL or t.startswith("[unused") or norm.normalize_str(body) != body:
            continue
        keep.append(i)
    return np.array(keep)


def top_eigenvectors(m, k):
    """Eigenvectors of symmetric m for the k largest eigenvalues, each signed so that its
    largest-magnitude component is positive (a deterministic choice)."""
    vals, vecs = np.linalg.eigh(m)
    vecs = vecs[:, np.argsort(-vals, kind="stable")[:k]]
    idx = np.argmax(np.abs(vecs), axis=0)
    return vecs * np.sign(vecs[idx, np.arange(k)])


def token_outputs(folder, vocab, keep):
    """The transformer's mean-pooled output for each kept token alone: [CLS] token [SEP]."""
    bert = Bert(folder, np.float32)
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    ids = np.stack([np.full(len(keep), cls), keep, np.full(len(keep), sep)], 1)
    out = np.zeros((len(keep), bert.cfg["hidden_size"]), np.float64)
    for s in range(0, len(keep), 2048):
        batch = ids[s:s + 2048]
        out[s:s + 2048] = bert.forward(batch, np.ones(batch.shape, np.float32))
        print(f"\r{s + len(batch)}/{len(keep)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return out


def table(args):
    folder = Path(args.model)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    vocab = tok.get_vocab(with_added_tokens=True)
    V = len(vocab)
    keep = kept_tokens(vocab, tok)
    out = token_outputs(folder, vocab, keep)
    x = out - out.mean(0)
    basis = top_eigenvectors(x.T @ x / len(x), DIMS)
    y = x @ basis
    # Zipf by vocabulary rank (model2vec): p(id) ~ 1 / (id + 2); SIF weight a / (a + p)
    p = 1.0 / (np.arange(V) + 2)
    p /= p.sum()
    y *= (SIF_COEFFICIENT / (SIF_COEFFICIENT + p[keep]))[:, None]
    # common component: the top direction of the rows as text would draw them (Zipf-weighted)
    pk = p[keep] / p[keep].sum()
    u = top_eigenvectors((y * pk[:, None]).T @ y, 1)[:, 0]
    y -= np.outer(y @ u, u)
    scale = np.abs(y).max(1) / 127.0
    q = np.where(scale[:, None] > 0, np.round(y / np.where(scale > 0, scale, 1)[:, None]), 0)
    q = np.clip(q, -127, 127).astype(np.int8)
    write_table(args.out, vocab, keep, scale.astype(np.float32), q)


def write_table(path, vocab, keep, scale, q):
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    V, (R, D) = len(tokens), q.shape
    blobs = [t.encode() for t in tokens]
    offsets = np.zeros(V + 1, np.uint32)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    H = 1
    while H < 2 * V:
        H *= 2
    slots = np.zeros(H, np.uint32)
    for i, b in enumerate(blobs):
        h = fnv1a(b) & (H - 1)
        while slots[h]:
            h = (h + 1) & (H - 1)
        slots[h] = i + 1
    row_of = np.full(V, 0xFFFFFFFF, np.uint32)
    row_of[keep] = np.arange(R, dtype=np.uint32)
    strings = b"".join(blobs)
    header = b"BATONEMB" + struct.pack("<8I", 1, V, D, R, H, len(strings), vocab["[UNK]"], 100)
    with open(path, "wb") as f:
        for part in (header, offsets.astype("<u4"), row_of.astype("<u4"), slots.astype("<u4"),
                     scale.astype("<f4"), q, strings):
            f.write(part.tobytes() if hasattr(part, "tobytes") else part)
    print(f"wrote {path}: vocab {V}, rows {R}, dims {D}", file=sys.stderr)


def vectors(args):
    folder = Path(args.model)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    bert = Bert(folder, np.float64)
    sentences = [l for l in Path(args.sentences).read_text().splitlines() if l.strip()]
    rows = []
    for s in sentences:
        e = tok.encode(s)
        ids = np.array([e.ids])
        v = bert.forward(ids, np.ones(ids.shape, np.float64))[0]
        rows.append({"text": s, "embedding": [round(float(x), 7) for x in v / np.linalg.norm(v)]})
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows))


def tokens(args):
    tok = Tokenizer.from_file(str(Path(args.model) / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    lines = [json.loads(l) for l in Path(args.inp).read_text().split("\n") if l.strip()]
    with open(args.out, "w") as f:
        for text in lines:
            f.write(json.dumps({"text": text, "ids": tok.encode(text, add_special_tokens=False).ids},
                               ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/all-MiniLM-L6-v2")
    sub = ap.add_subparsers(required=True)
    t = sub.add_parser("table"); t.add_argument("out"); t.set_defaults(f=table)
    v = sub.add_parser("vectors"); v.add_argument("sentences"); v.add_argument("out"); v.set_defaults(f=vectors)
    k = sub.add_parser("tokens"); k.add_argument("inp"); k.add_argument("out"); k.set_defaults(f=tokens)
    args = ap.parse_args()
    args.f(args)


if __name__ == "__main__":
    main()
