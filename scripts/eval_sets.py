#!/usr/bin/env python3
"""Aggregate figures of `baton eval --json` over the labelled sets, in three groups: the read sets
(the READ list of scripts/learn_from_sets.py: in the banks, so in-sample), the dev set, and the
sets kept unread to judge the engine (only their aggregates are printed; do not open their
conversations). Recall and precision are pooled over a group's conversations; F1, reason, skill
and exact timing are means of the per-set figures.

Usage: scripts/eval_sets.py [POLICY] [--per]   (POLICY: a policy file, default the shipped one;
--per also prints each unread set's F1). BATON_BIN names the binary (default target/release/baton),
BATON_DEV_SET the dev set (default ../shared/data/escalation-dev/conversations.jsonl).
"""
import json, os, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = os.environ.get("BATON_BIN", os.path.join(ROOT, "target", "release", "baton"))
DEV = os.environ.get("BATON_DEV_SET", os.path.join(ROOT, "..", "shared", "data", "escalation-dev", "conversations.jsonl"))


def sets():
    """READ and UNREAD from learn_from_sets.py, without running it."""
    source = open(os.path.join(ROOT, "scripts", "learn_from_sets.py")).read()
    scope = {}
    start = source.index("READ = ")
    exec(source[start:source.index("DEV = ", start)], scope)
    return scope["READ"], sorted(scope["UNREAD"], key=lambda s: int(s.rsplit("-", 1)[1]))


def main():
    args = [a for a in sys.argv[1:] if a != "--per"]
    policy = args[0] if args else None
    read, unread = sets()

    def run(name):
        path = DEV if name == "dev" else os.path.join(ROOT, "data", name, "conversations.jsonl")
        cmd = [BIN, "eval", "--json", path] + (["--policy", policy] if policy else [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        if not out.stdout.strip():
            sys.exit(f"{' '.join(cmd)} failed: {out.stderr[:500]}")
        return name, json.loads(out.stdout)

    with ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        res = dict(ex.map(run, read + ["dev"] + unread))
    for name, group in (("read", read), ("dev", ["dev"]), ("unread", unread)):
        ds = [res[s] for s in group]
        n = len(ds)
        tp, fn, fp = (sum(d[k] for d in ds) for k in ("true_positives", "false_negatives", "false_positives"))
        mean = lambda k: sum(d[k] for d in ds) / n
        print(f"{name:7s} F1 {mean('f1'):.4f} R {tp / max(tp + fn, 1):.3f} P {tp / max(tp + fp, 1):.3f} "
              f"reason {mean('reason_accuracy'):.4f} skill {mean('skill_accuracy'):.4f} "
              f"exact {mean('timing_exact'):.4f} misses {fn} false-alarms {fp}")
    if "--per" in sys.argv:
        print(" ".join(f"{s.rsplit('-', 1)[1]}:{res[s]['f1']:.3f}" for s in unread))


if __name__ == "__main__":
    main()
