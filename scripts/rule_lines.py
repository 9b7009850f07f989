#!/usr/bin/env python3
"""Which labelled lines a rule's regex matches, with their labels: every line of the intent
corpus (data/intents/), and every customer message of the conversation files given.
Checks a candidate rule before it goes in the policy (Python's `re` reads these patterns as the
Rust `regex` crate does, lookarounds aside). Case-insensitive.

With --exclusions-of SECTION (cancellation, legal_compliance, transaction_dispute), each match
is also checked as the engine checks a rule's `patterns`: a match whose text and next two words
hit one of that section's `exclusions` in policy/default.toml is silenced, and is marked
"EXCLUDED" (a pattern that is always excluded belongs in the section's `whole_patterns`).

Usage: scripts/rule_lines.py REGEX [CONVERSATIONS.jsonl ...] [--show N] [--exclusions-of SECTION]
"""
import argparse, collections, glob, json, os, re

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("regex")
ap.add_argument("conversations", nargs="*")
ap.add_argument("--show", type=int, default=40, help="lines to print (default 40)")
ap.add_argument("--exclusions-of", metavar="SECTION",
                help="mark matches that SECTION's exclusions in policy/default.toml silence")
a = ap.parse_args()
try:
    pat = re.compile(a.regex, re.I)
except re.error as e:
    ap.error(f"REGEX does not compile: {e}")
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
exclusions = []
if a.exclusions_of:
    import tomllib
    with open(os.path.join(root, "policy/default.toml"), "rb") as f:
        section = tomllib.load(f).get(a.exclusions_of)
    if section is None:
        ap.error(f"policy/default.toml has no section [{a.exclusions_of}]")
    exclusions = [re.compile(x, re.I) for x in section.get("exclusions", [])]


def excluded(text):
    """True when the first match, with the two words after it, hits an exclusion."""
    m = pat.search(text)
    if not m or not exclusions:
        return False
    after = re.match(r"\W*[\w'-]+(\W+[\w'-]+)?", text[m.end():])
    span = text[m.start():m.end() + (after.end() if after else 0)]
    return any(x.search(span) for x in exclusions)


def mark(label, text):
    return label + (" EXCLUDED" if excluded(text) else "")


rows = []
for f in sorted(glob.glob(os.path.join(root, "data/intents/*.jsonl"))):
    for line in open(f, encoding="utf-8"):
        d = json.loads(line)
        if pat.search(d["text"]):
            label = d["intent"] + ("/" + d["sensitive"] if d.get("sensitive") else "")
            rows.append(("corpus", mark(label, d["text"]), d["text"]))
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
                where = f"{e.get('reason')}@{e.get('at')} msg{i}"
                rows.append((c["id"], mark(where, m["text"]), m["text"][:160]))
print(collections.Counter(
    r[1] if r[0] == "corpus" else "conversation" + (" EXCLUDED" if r[1].endswith("EXCLUDED") else "")
    for r in rows))
for r in rows[: a.show]:
    print(r)
