#!/usr/bin/env python3
"""Tunes the static embedding table on whole sentences (what model2vec's "tokenlearn" does).

The distilled table (crates/baton-embed/data/minilm-l6-base.bin, `baton model distill`) gives each
token the transformer's output for that token alone. A sentence's static vector is then a sum of
context-free rows, far from what the transformer says about the sentence: on the intent corpus,
a linear head over those vectors finds 22% of the lines that need a person (leave-one-domain-out)
where the same head over the transformer's vectors finds 64%.

This script makes the table imitate the transformer on sentences:
1. every line of the intent corpus (data/intents/, data/counter-examples/) goes through
   all-MiniLM-L6-v2 (mean-pooled, L2-normalised): the teacher's vectors Y;
2. Y is centred and projected on its top 128 principal components (each signed so that its
   largest component is positive): the target space;
3. a linear map M takes the base table's sentence vectors to the targets (least squares), and
   every row starts as base_row @ M;
4. the rows are then fitted so that the mean of a sentence's token rows is its target:
   minimise sum_s |mean_{t in s} v_t - y_s|^2 + lam * sum_t |v_t - base_t @ M|^2,
   a linear least-squares problem solved by conjugate gradients (tokens that no sentence uses
   keep base_row @ M);
5. rows are quantised to int8 with a per-row scale and written in the base table's format, with
   its vocabulary, hash and row set unchanged;
6. the target space itself (the mean of Y and its 128 principal components) is written as a
   projection (crates/baton-embed/data/minilm-l6-sentence.bin, the `BATONPRJ` format of
   `baton_embed::distill::Projection`, vocabulary size 0 and no common component), so that
   `--semantic full` can put the transformer's own sentence vectors in the table's space.

Measured with scripts/tune_table.py --lodo (the table and the heads refitted without each of
the corpus's 16 domains; semantic detectors alone): recall 0.22 -> 0.54 at precision 0.90 -> 0.92.

Needs numpy, scipy, safetensors and tokenizers, and the model (scripts/fetch-model.sh).
Usage: python3 scripts/tune_table.py [--model models/all-MiniLM-L6-v2] [--lam 0.02] OUT
"""
import argparse
import glob
import json
import struct
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from distill_reference import Bert  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "crates/baton-embed/data/minilm-l6-base.bin"
SENTENCE = ROOT / "crates/baton-embed/data/minilm-l6-sentence.bin"
DIMS = 128


def read_table(path):
    b = Path(path).read_bytes()
    if b[:8] != b"BATONEMB":
        sys.exit(f"{path}: not a Baton embedding table (magic)")
    version, V, D, R, H, S, unk, mwc = struct.unpack("<8I", b[8:40])
    off = 40 + 4 * (V + 1)
    row_of = np.frombuffer(b, "<u4", V, off)
    off += 4 * V + 4 * H
    scales_at = off
    scales = np.frombuffer(b, "<f4", R, off)
    off += 4 * R
    data_at = off
    data = np.frombuffer(b, "i1", R * D, off).reshape(R, D)
    return b, row_of, scales_at, data_at, data.astype(np.float64) * scales[:, None]


def corpus_texts():
    files = sorted(glob.glob(str(ROOT / "data/intents/*.jsonl")))
    files += sorted(glob.glob(str(ROOT / "data/counter-examples/*.jsonl")))
    files += sorted(glob.glob(str(ROOT / "data/learned/*.jsonl")))
    lines = []
    for f in files:
        for line in open(f, encoding="utf-8"):
            if line.strip():
                lines.append(json.loads(line))
    return lines


def teacher(folder, tok, texts):
    """all-MiniLM-L6-v2's sentence embeddings (mean-pooled, L2-normalised), float64."""
    bert = Bert(folder, np.float32)
    enc = [tok.encode(t).ids[:256] for t in texts]
    order = np.argsort([len(e) for e in enc], kind="stable")
    out = np.zeros((len(texts), bert.cfg["hidden_size"]), np.float64)
    for s in range(0, len(order), 32):
        idx = order[s:s + 32]
        width = max(len(enc[i]) for i in idx)
        ids = np.zeros((len(idx), width), np.int64)
        mask = np.zeros((len(idx), width), np.float32)
        for j, i in enumerate(idx):
            ids[j, :len(enc[i])] = enc[i]
            mask[j, :len(enc[i])] = 1
        v = bert.forward(ids, mask).astype(np.float64)
        out[idx] = v / np.linalg.norm(v, axis=1, keepdims=True)
        if s % 1024 == 0:
            print(f"teacher: {s}/{len(order)} sentences", file=sys.stderr)
    return out


def mean_rows(tok, texts, vocab_size):
    """Sparse (sentences x vocabulary): 1/n for each of a sentence's n tokens."""
    r, c, v = [], [], []
    for i, t in enumerate(texts):
        ids = tok.encode(t, add_special_tokens=False).ids
        for j in ids:
            r.append(i)
            c.append(j)
            v.append(1.0 / len(ids))
    return sp.csr_matrix((v, (r, c)), shape=(len(texts), vocab_size))


def target_space(Y, dims=DIMS):
    """The mean of the teacher's vectors and their top `dims` principal components (input x dims),
    each signed so that its largest component is positive."""
    mu = Y.mean(0)
    _, _, vt = np.linalg.svd(Y - mu, full_matrices=False)
    basis = vt[:dims].T
    basis *= np.sign(basis[np.abs(basis).argmax(0), np.arange(dims)])
    return mu, basis


def write_projection(path, mu, basis):
    """The `BATONPRJ` format (version 1, input, dims, vocabulary size 0; f32 mean, basis, common)."""
    dims = basis.shape[1]
    out = bytearray(b"BATONPRJ")
    out += struct.pack("<4I", 1, len(mu), dims, 0)
    out += np.concatenate([mu, basis.reshape(-1), np.zeros(dims)]).astype("<f4").tobytes()
    Path(path).write_bytes(bytes(out))


def fit(base, A, Y, lam, dims=DIMS):
    """The tuned rows (vocabulary x dims) for sentences A (mean_rows) with teacher vectors Y."""
    mu, basis = target_space(Y, dims)
    target = (Y - mu) @ basis
    m, *_ = np.linalg.lstsq(A @ base, target, rcond=None)
    start = base @ m
    # conjugate gradients on (A^T A + lam I) z = A^T (target - A start), all columns at once
    at = A.T.tocsr()
    b = np.asarray(at @ (target - A @ start))
    z = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rs = (r * r).sum(0)
    stop = 1e-6 * np.sqrt(rs).max()
    for it in range(2000):
        kp = at @ (A @ p) + lam * p
        alpha = rs / np.maximum((p * kp).sum(0), 1e-300)
        z += p * alpha
        r -= kp * alpha
        rs_new = (r * r).sum(0)
        if np.sqrt(rs_new).max() < stop:
            break
        p = r + p * (rs_new / np.maximum(rs, 1e-300))
        rs = rs_new
    print(f"conjugate gradients: {it + 1} iterations", file=sys.stderr)
    return start + z


def embed(rows, A):
    x = np.asarray(A @ rows)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def write(path, raw, row_of, scales_at, data_at, full):
    have = row_of != 0xFFFFFFFF
    rows = np.zeros((int(have.sum()), full.shape[1]))
    rows[row_of[have]] = full[have]
    scale = np.abs(rows).max(1) / 127.0
    q = np.where(scale[:, None] > 0, np.round(rows / np.where(scale > 0, scale, 1)[:, None]), 0)
    q = np.clip(q, -127, 127).astype(np.int8)
    out = bytearray(raw)
    out[scales_at:scales_at + 4 * len(scale)] = scale.astype("<f4").tobytes()
    out[data_at:data_at + q.size] = q.tobytes()
    Path(path).write_bytes(bytes(out))
    print(f"wrote {path}: {len(rows)} rows of {rows.shape[1]}", file=sys.stderr)


def lodo(tok, lines, base, A, Y, lam):
    """Leave-one-domain-out: for each domain, the table and a ridge head without it."""
    detectors = ["explicit_request", "cancellation", "legal_compliance", "sensitive_topic",
                 "transaction_dispute", "frustration"]
    active = np.arange(1, 6)
    cls = np.array([0 if l["intent"] == "none" or l.get("counter") else 1 + detectors.index(l["intent"])
                    for l in lines])
    counter = np.array([bool(l.get("counter")) for l in lines])
    dom = np.array([l.get("domain") or "" for l in lines])
    scores = np.zeros((len(lines), 7))
    for d in sorted(set(dom) - {""}):
        test = dom == d
        x = embed(fit(base, A[~test], Y[~test], lam), A)
        centre = x[~test].mean(0)
        xc = x - centre
        xc /= np.maximum(np.linalg.norm(xc, axis=1, keepdims=True), 1e-12)
        xb = np.hstack([xc, np.ones((len(x), 1))])
        w = np.where(counter, 2.0, 1.0)[~test, None]
        gram = (xb[~test] * w).T @ xb[~test] + 1.0 * np.diag([1.0] * DIMS + [1e-9])
        head = np.linalg.solve(gram, (xb[~test] * w).T @ np.eye(7)[cls[~test]])
        scores[test] = xb[test] @ head
    for threshold in (0.35, 0.45, 0.55, 0.6, 0.65):
        s = scores[:, active].max(1)
        fire = (s >= threshold) & (s - scores[:, 0] >= 0.2) & (dom != "")
        pos = np.isin(cls, active) & (dom != "")
        tp, fp, fn = (fire & pos).sum(), (fire & ~pos).sum(), (~fire & pos).sum()
        print(f"threshold {threshold}: precision {tp / max(tp + fp, 1):.3f} "
              f"recall {tp / max(tp + fn, 1):.3f} (TP {tp} FP {fp} FN {fn})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models/all-MiniLM-L6-v2"))
    ap.add_argument("--base", default=str(BASE))
    ap.add_argument("--lam", type=float, default=0.02)
    ap.add_argument("--projection", default=str(SENTENCE),
                    help="where to write the sentence projection (the table's space)")
    ap.add_argument("--lodo", action="store_true",
                    help="print the leave-one-domain-out figures instead of writing a table")
    ap.add_argument("out", nargs="?")
    args = ap.parse_args()
    folder = Path(args.model)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    raw, row_of, scales_at, data_at, rows = read_table(args.base)
    base = np.zeros((len(row_of), rows.shape[1]))
    have = row_of != 0xFFFFFFFF
    base[have] = rows[row_of[have]]
    lines = corpus_texts()
    texts = [l["text"] for l in lines]
    # tokens without a row (as embeddings ignore them) take no part
    A = mean_rows(tok, texts, len(row_of)) @ sp.diags(have.astype(np.float64))
    Y = teacher(folder, tok, texts)
    if args.lodo:
        lodo(tok, lines, base, A, Y, args.lam)
        return
    if not args.out:
        sys.exit("tune_table: name the table to write (OUT), or pass --lodo")
    write(args.out, raw, row_of, scales_at, data_at, fit(base, A, Y, args.lam))
    write_projection(args.projection, *target_space(Y))


if __name__ == "__main__":
    main()
