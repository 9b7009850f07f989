#!/usr/bin/env python3
"""Trains the intent MLP (one hidden layer) over the compiled-in table's sentence vectors.

A linear head over the tuned static vectors finds about half of the corpus lines that need a
person on domains it never saw; a small MLP over the same vectors finds a good deal more at the
same precision (BENCHMARKS.md, "The intent MLP"). Training one at policy load would cost seconds,
so it is trained here, once, and its weights are committed (crates/baton-core/data/intent-mlp.bin)
and compiled in; the linear head, fitted at load, still learns from the policy's own banks.

Vectors are made as the engine makes them: the text normalised (whitespace, quotes, lower case),
WordPiece tokens' rows summed from crates/baton-embed/data/minilm-l6-static.bin and normalised,
re-centred on the mean of every bank line (data/intents, data/counter-examples, data/learned)
and normalised again. It learns from the corpus lines only (data/learned/ holds whole messages),
and from data/mlp-training/ (lines that teach the MLP "none" without being bank lines: not in
the centre).
Classes: none, then the detectors in
`DETECTORS` order; a counter-example trains "none".

Format of the output (little-endian): magic `BATONMLP`, u32 version (1), dims D, hidden H,
classes C, then f32: centre[D], w1[H][D], b1[H], w2[C][H], b2[C].

  --lodo   print leave-one-domain-out figures (the table is the shipped one: its rows were tuned
           on every corpus line, so this is optimistic; scripts/tune_table.py --lodo refits it)

Needs numpy, scikit-learn and tokenizers, and models/all-MiniLM-L6-v2/tokenizer.json
(scripts/fetch-model.sh). Usage: python3 scripts/train_head.py [--lodo] [OUT]
"""
import argparse
import glob
import json
import struct
import sys
from pathlib import Path

import numpy as np
from sklearn.neural_network import MLPClassifier
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune_table import ROOT, corpus_texts, read_table  # noqa: E402

DETECTORS = ["explicit_request", "cancellation", "legal_compliance", "sensitive_topic",
             "transaction_dispute", "frustration"]
HIDDEN = 64
ALPHA = 0.1
SEED = 0


def normalise(text):
    out = []
    space = False
    for ch in text:
        if ch.isspace():
            space = bool(out)
            continue
        if space:
            out.append(" ")
            space = False
        if ch in "\u2018\u2019\u02bc`\u00b4":
            out.append("'")
        elif ch in "\u201c\u201d":
            out.append('"')
        else:
            out.append(ch.lower())
    return expand_shorthand("".join(out))


# As crates/baton-core/src/text.rs writes chat shorthand out ("cn sum1 from ur team").
SHORTHAND = {
    "u": "you", "ur": "your", "urs": "yours", "any1": "anyone", "ne1": "anyone",
    "sum1": "someone", "some1": "someone", "no1": "no one", "cn": "can", "pls": "please",
    "plz": "please", "pleez": "please", "abt": "about", "ppl": "people", "smth": "something",
    "sth": "something", "tmrw": "tomorrow", "tmr": "tomorrow", "tomoz": "tomorrow",
    "b4": "before", "jus": "just", "wat": "what", "wot": "what", "thx": "thanks",
    "thnx": "thanks", "tx": "thanks", "im": "i'm", "ive": "i've", "dont": "don't",
    "cant": "can't", "wont": "won't", "didnt": "didn't", "doesnt": "doesn't", "isnt": "isn't",
    "havent": "haven't", "wasnt": "wasn't", "arent": "aren't", "youre": "you're",
    "thats": "that's", "whats": "what's",
}


def expand_shorthand(norm):
    def joins(c):
        return (c.isascii() and c.isalnum()) or c in "'-&@/_." or ord(c) >= 0x80

    out, copied, i, n = [], 0, 0, len(norm)
    while i < n:
        if not (norm[i].isascii() and norm[i].isalnum()):
            i += 1
            continue
        start = i
        while i < n and norm[i].isascii() and norm[i].isalnum():
            i += 1
        before_ok = start == 0 or not joins(norm[start - 1])
        if i == n:
            after_ok = True
        elif norm[i] == ".":
            after_ok = not (i + 1 < n and norm[i + 1].isascii() and norm[i + 1].isalnum())
        else:
            after_ok = not joins(norm[i])
        word = SHORTHAND.get(norm[start:i])
        if before_ok and after_ok and word:
            out.append(norm[copied:start])
            out.append(word)
            copied = i
    out.append(norm[copied:])
    return "".join(out)


def vectors(texts):
    raw, row_of, _, _, rows = read_table(ROOT / "crates/baton-embed/data/minilm-l6-static.bin")
    tok = Tokenizer.from_file(str(ROOT / "models/all-MiniLM-L6-v2/tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    out = np.zeros((len(texts), rows.shape[1]))
    for i, t in enumerate(texts):
        ids = [j for j in tok.encode(normalise(t), add_special_tokens=False).ids
               if row_of[j] != 0xFFFFFFFF]
        if ids:
            v = rows[row_of[ids]].astype(np.float32).sum(0)
            out[i] = v / max(np.linalg.norm(v), 1e-12)
    return out


def recentre(x, centre):
    y = x - centre
    return y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)


def train(x, y):
    m = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", alpha=ALPHA,
                      max_iter=400, random_state=SEED)
    m.fit(x, y)
    return m


def write_mlp(path, centre, m):
    """Writes a fitted MLPClassifier in the engine's format; returns (dims, hidden, classes)."""
    w1, w2 = m.coefs_
    b1, b2 = m.intercepts_
    d, h, c = w1.shape[0], w1.shape[1], w2.shape[1]
    with open(path, "wb") as f:
        f.write(b"BATONMLP" + struct.pack("<4I", 1, d, h, c))
        for part in (centre, w1.T, b1, w2.T, b2):
            f.write(np.ascontiguousarray(part, dtype="<f4").tobytes())
    return d, h, c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lodo", action="store_true")
    ap.add_argument("out", nargs="?", default=str(ROOT / "crates/baton-core/data/intent-mlp.bin"))
    args = ap.parse_args()
    lines = corpus_texts()
    # data/mlp-training/: lines that teach the MLP only ("none"), not bank lines, so not in the
    # centre (the engine re-centres on its banks' mean). Session 34: short innocent sentences the
    # MLP fired on; as bank counter-examples they also vetoed real escalations (BENCHMARKS.md).
    extra = [json.loads(l) for f in sorted(glob.glob(str(ROOT / "data/mlp-training/*.jsonl")))
             for l in open(f, encoding="utf-8") if l.strip()]
    bank = len(lines)
    lines += extra
    x = vectors([l["text"] for l in lines])
    y = np.array([0 if l["intent"] == "none" or l.get("counter") else 1 + DETECTORS.index(l["intent"])
                  for l in lines])
    in_bank = np.arange(len(lines)) < bank
    # The engine centres on the mean of every bank line; the MLP learns from the corpus's
    # sentences only: data/learned/ holds whole messages (several sentences each), which made it
    # less sure of plain sentences ("i never authorized that payment": 0.84 against 0.97).
    own = np.array([not l.get("from") for l in lines])
    if args.lodo:
        # As shipped, each domain left out: centred on the other lines, trained on the other
        # corpus lines; scored on the left-out domain's lines (learned ones included).
        dom = np.array([l.get("domain") or "" for l in lines])
        scores = np.zeros((len(lines), 1 + len(DETECTORS)))
        for d in sorted(set(dom) - {""}):
            test = dom == d
            centre = x[~test & in_bank].mean(0)
            m = train(recentre(x[~test & own], centre), y[~test & own])
            scores[np.ix_(test, m.classes_)] = m.predict_proba(recentre(x[test], centre))
        pos = np.isin(y, [1, 2, 3, 4, 5]) & (dom != "")
        for t in (0.7, 0.8, 0.9):
            s = scores[:, 1:6].max(1)
            fire = (s >= t) & (s - scores[:, 0] >= 0.3) & (dom != "")
            tp, fp, fn = (fire & pos).sum(), (fire & ~pos).sum(), (~fire & pos).sum()
            print(f"threshold {t}: precision {tp / max(tp + fp, 1):.3f} recall {tp / max(tp + fn, 1):.3f}")
        return
    centre = x[in_bank].mean(0)
    m = train(recentre(x[own], centre), y[own])
    assert list(m.classes_) == list(range(1 + len(DETECTORS))), m.classes_
    d, h, c = write_mlp(args.out, centre, m)
    print(f"wrote {args.out}: {d} -> {h} -> {c}, trained on {own.sum()} of {len(lines)} lines "
          f"({m.n_iter_} iterations)", file=sys.stderr)


if __name__ == "__main__":
    main()
