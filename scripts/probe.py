#!/usr/bin/env python3
"""Probe phrasings: each line of data/probes/*.tsv ("kind<TAB>text", kind a reason or "none") is
posted as the customer's reply after a neutral exchange (a question about the account and the AI's
offer to help), and the engine's decision is compared with the kind. A line is right when the
decision's first reason is its kind (or, for "none", when it does not escalate); "heard" counts a
line whose kind is among the reasons but not first. Written to probe phrasings no set uses.

    python3 scripts/probe.py [--policy FILE] [--errors] [FILE.tsv ...]

Uses target/release/baton (BATON=path to run another binary).
"""
import glob
import json
import os
import subprocess
import sys

args = sys.argv[1:]
policy = []
if "--policy" in args:
    i = args.index("--policy")
    policy = ["--policy", args[i + 1]]
    del args[i : i + 2]
errors = "--errors" in args
args = [a for a in args if a != "--errors"]
here = os.path.dirname(os.path.abspath(__file__))
files = args or sorted(glob.glob(os.path.join(here, "..", "data", "probes", "*.tsv")))
baton = os.environ.get("BATON", os.path.join(here, "..", "target", "release", "baton"))
total = right_all = 0
for path in files:
    rows = []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if not line.strip():
            continue
        parts = line.rstrip("\n").split("\t", 1)
        if len(parts) != 2 or not parts[0] or not parts[1].strip():
            sys.exit(f"probe: {path}:{n}: expected 'kind<TAB>text', got {line.strip()[:60]!r}")
        rows.append(parts)
    lines = []
    for i, (kind, text) in enumerate(rows):
        lines.append(json.dumps({
            "id": f"probe-{i:03d}",
            "customer": {"id": f"probe-{i}", "name": "C", "tier": "standard", "lifetime_value": 0},
            "messages": [
                {"role": "customer", "text": "Hi, I have a question about my account.", "at": "2026-01-01T10:00:00Z"},
                {"role": "ai", "text": "Of course, I can help with that. What would you like to know about your account?",
                 "at": "2026-01-01T10:00:10Z", "confidence": 0.92},
                {"role": "customer", "text": text, "at": "2026-01-01T10:00:40Z"},
            ],
        }))
    out = subprocess.run([baton, "analyze", "-"] + policy, input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True).stdout.splitlines()
    right = heard = 0
    for (kind, text), line in zip(rows, out):
        d = json.loads(line)
        kinds = [r["kind"] for r in d.get("reasons") or []]
        ok = (not d.get("escalate")) if kind == "none" else bool(kinds) and kinds[0] == kind
        right += ok
        heard += (not ok) and kind in kinds
        if errors and not ok:
            print(f"  wrong: {kind}: {text}  ->  {kinds or 'no escalation'}")
    total += len(rows)
    right_all += right
    print(f"{os.path.basename(path)}: {right} of {len(rows)} right, {heard} more heard behind another reason")
print(f"all: {right_all} of {total} right")
