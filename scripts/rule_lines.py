#!/usr/bin/env python3
"""Which labelled lines a rule's regex matches, with their labels: every line of the intent
corpus (data/intents/), and every customer message of the conversation files given.
Checks a candidate rule before it goes in the policy (Python's `re` reads these patterns as the
Rust `regex` crate does, lookarounds aside). Case-insensitive.

Usage: scripts/rule_lines.py REGEX [CONVERSATIONS.jsonl ...] [--show N]
"""
import argparse, collections, glob, json, os, re

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("regex")
ap.add_argument("conversations", nargs="*")
ap.add_argument("--show", type=int, default=40, help="lines to print (default 40)")
a = ap.parse_args()
try:
    pat = re.compile(a.regex, re.I)
except re.error as e:
    ap.error(f"REGEX does not compile: {e}")
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
rows = []
for f in sorted(glob.glob(os.path.join(root, "data/intents/*.jsonl"))):
    for line in open(f, encoding="utf-8"):
        d = json.loads(line)
        if pat.search(d["text"]):
            label = d["intent"] + ("/" + d["sensitive"] if d.get("sensitive") else "")
            rows.append(("corpus", label, d["text"]))
for f in a.conversations:
    try:
        lines = open(f, encoding="utf-8").read().splitlines()
    except OSError as e:
        ap.error(f"cannot read {f}: {e.strerror}")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            c = json.loads(line)
        except json.JSONDecodeError as e:
            ap.error(f"{f}:{n}: not a JSON conversation ({e.msg})")
        e = c.get("expected") or {}
        for i, m in enumerate(c["messages"]):
            if m["role"] == "customer" and pat.search(m["text"]):
                rows.append((c["id"], f"{e.get('reason')}@{e.get('at')} msg{i}", m["text"][:160]))
print(collections.Counter(r[1] if r[0] == "corpus" else "conversation" for r in rows))
for r in rows[: a.show]:
    print(r)
