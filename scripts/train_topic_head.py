#!/usr/bin/env python3
"""Trains the conversation topic head: which team (billing, general, technical) a conversation
that needs a person belongs to, from the weighted sum of its messages' sentence vectors.

The skill of a handoff whose reason names no team (a request for a person, the AI unsure,
frustration, a repeated question, a sentiment drop, a long message) comes from the conversation's
topic. Keyword hits and a linear head fitted on single corpus lines got it right for 0.82 of the
read sets' such handoffs; a small MLP trained on whole labelled conversations gets about 0.86 on
sets it did not see (5-fold by set, `--cv`). Its weights are committed
(crates/baton-core/data/topic-mlp.bin) and compiled in; `[topics] head_weight` in the policy
weighs it against the keywords.

Training data: every conversation of the read evaluation sets (the READ list of
scripts/learn_from_sets.py) whose expected reason takes its skill from the topic and whose skill
is one of the three, up to and including the labelled message; and the corpus lines
(data/intents) whose `topic` is one of the three, each as a one-message conversation, weighted
less. The dev set and the unread sets are not used (they judge it).

A conversation's vector is the engine's: each message's vector (the compiled-in table's, see
scripts/train_head.py, re-centred on the mean of every bank line), weighted as
`[topics]` weighs keywords (the customer's first message `first_message_weight`, the others 1,
the AI's `ai_weight`), summed and normalised.

Output: the MLP format of scripts/train_head.py (magic `BATONMLP`, version 1, dims, hidden,
classes, then f32 centre, w1, b1, w2, b2), classes in the order of SKILLS below.

Needs numpy, scikit-learn and tokenizers, and models/all-MiniLM-L6-v2/tokenizer.json
(scripts/fetch-model.sh). Usage: python3 scripts/train_topic_head.py [--cv] [OUT]
"""
import argparse
import json
import sys
import tomllib
from pathlib import Path

import numpy as np
from sklearn.neural_network import MLPClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_head import recentre, vectors, write_mlp  # noqa: E402
from tune_table import ROOT, corpus_texts  # noqa: E402

SKILLS = ["billing", "general", "technical"]
# Reasons whose skill is the conversation's topic (the others name their team).
BY_TOPIC = {"explicit_request", "low_confidence", "frustration", "repeated_question",
            "sentiment_drop", "message_length"}
HIDDEN = 32
ALPHA = 0.1
SEED = 0
# Weight of a corpus line next to a labelled conversation.
LINE_WEIGHT = 0.2


def read_sets():
    source = (ROOT / "scripts/learn_from_sets.py").read_text()
    scope = {}
    start = source.index("READ = ")
    exec(source[start:source.index("DEV = ", start)], scope)
    return scope["READ"]


def conversations(sets):
    """(set, messages up to the labelled one, skill) of each conversation the head learns from."""
    out = []
    for s in sets:
        for line in open(ROOT / "data" / s / "conversations.jsonl", encoding="utf-8"):
            r = json.loads(line)
            e = r["expected"]
            if e["escalate"] and e["reason"] in BY_TOPIC and e["skill"] in SKILLS:
                out.append((s, r["messages"][: e["at"] + 1], e["skill"]))
    return out


def conversation_vectors(convs, vec_of, weights):
    first, ai = weights
    x = np.zeros((len(convs), len(next(iter(vec_of.values())))))
    for i, (_, messages, _) in enumerate(convs):
        seen = 0
        for m in messages:
            if m["role"] == "customer":
                w = first if seen == 0 else 1.0
                seen += 1
            elif m["role"] == "ai":
                w = ai
            else:
                continue
            x[i] += w * vec_of[m["text"]]
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def train(x, y, w):
    m = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", alpha=ALPHA,
                      max_iter=800, random_state=SEED)
    m.fit(x, y, sample_weight=w)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cv", action="store_true", help="print 5-fold by-set accuracy, write nothing")
    ap.add_argument("out", nargs="?", default=str(ROOT / "crates/baton-core/data/topic-mlp.bin"))
    args = ap.parse_args()
    topics = tomllib.loads((ROOT / "policy/default.toml").read_text())["topics"]
    weights = (topics["first_message_weight"], topics["ai_weight"])

    bank = corpus_texts()
    convs = conversations(read_sets())
    lines = [l for l in bank if l.get("topic") in SKILLS and not l.get("from")]
    texts = sorted({m["text"] for _, ms, _ in convs for m in ms} | {l["text"] for l in lines}
                   | {l["text"] for l in bank})
    raw = dict(zip(texts, vectors(texts)))
    centre = np.mean([raw[l["text"]] for l in bank], axis=0)
    vec_of = {t: v for t, v in zip(texts, recentre(np.array([raw[t] for t in texts]), centre))}

    xc = conversation_vectors(convs, vec_of, weights)
    yc = np.array([SKILLS.index(s) for _, _, s in convs])
    xl = np.array([vec_of[l["text"]] for l in lines])
    yl = np.array([SKILLS.index(l["topic"]) for l in lines])
    if args.cv:
        group = np.array([s for s, _, _ in convs])
        sets = sorted(set(group))
        right = 0
        for k in range(5):
            test = np.isin(group, sets[k::5])
            m = train(np.vstack([xc[~test], xl]), np.concatenate([yc[~test], yl]),
                      np.concatenate([np.ones((~test).sum()), np.full(len(yl), LINE_WEIGHT)]))
            right += (m.predict(xc[test]) == yc[test]).sum()
        print(f"5-fold by set: {right / len(yc):.3f} of {len(yc)} conversations "
              f"(all {SKILLS[int(np.bincount(yc).argmax())]}: {np.bincount(yc).max() / len(yc):.3f})")
        return
    m = train(np.vstack([xc, xl]), np.concatenate([yc, yl]),
              np.concatenate([np.ones(len(yc)), np.full(len(yl), LINE_WEIGHT)]))
    assert list(m.classes_) == list(range(len(SKILLS))), m.classes_
    d, h, c = write_mlp(args.out, centre, m)
    print(f"wrote {args.out}: {d} -> {h} -> {c}, trained on {len(yc)} conversations and "
          f"{len(yl)} corpus lines ({m.n_iter_} iterations)", file=sys.stderr)


if __name__ == "__main__":
    main()
