#!/usr/bin/env python3
"""Writes the bank file of what the labelled conversation sets the team has READ teach the meaning
tier: data/learned/evaluation-sets.jsonl, part of the compiled-in `builtin` bank since session 21
(data/learned/README.md). After regenerating it, retrain the intent MLP (scripts/train_head.py).

- Each escalation whose primary reason has a meaning detector (explicit_request, cancellation,
  legal_compliance, sensitive_topic, transaction_dispute): the customer message it escalates at,
  as an example of that reason (a confirmed handoff's trigger sentence).
- With --neutral only: each conversation that must not escalate, every customer message as a
  neutral line. Left out of the shipped file: on sets nobody had read they vetoed more
  escalations than false alarms (BENCHMARKS.md, session 21).
- With --fired (with --false-alarms): also the sentences the meaning tier fired on in those false
  alarms (`baton eval --errors --explain`, FIRES), each as a counter-example of the detector that
  fired: measured, not shipped (session 24, 19 unread sets: false alarms 49 -> 43 but misses
  84 -> 89, F1 0.920 either way; recall is the target nearer its floor).
- With --false-alarms: each conversation that must not escalate but where the engine (BATON_BIN,
  default target/release/baton, with the shipped policy) escalates because the meaning tier heard
  a reason ("means: ..." evidence), the customer message it fired at, as a counter-example of that
  detector (`"counter": true`): what an agent's "not a handoff" verdict teaches a deployment.

Only the sets listed in READ (and the dev set with --with-dev, for experiments): the sets kept unread to judge the engine
(fresh-eval-4, -14, -16, -17, -26, -27, -30, -31, -34, -35, -36, -37, -40 to -43, -46, -48, -49) are refused, so they stay unseen.
`domain` is "eval-" and the set's id prefix (the leave-one-domain-out evaluation leaves each out).

Usage: scripts/learn_from_sets.py [--with-dev] [--neutral] [--false-alarms [--fired]] [OUT]   (default /tmp/learned-evaluation-sets.jsonl;
the shipped file is data/learned/evaluation-sets.jsonl)
"""
import json, os, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
READ = ["fresh-eval", "fresh-eval-2", "fresh-eval-3"] + [
    f"fresh-eval-{i}" for i in (5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 18, 19, 20, 21, 22, 23, 24, 25, 28, 29, 32, 33, 38, 39, 44, 45, 47, 50, 51, 53, 54, 56, 57, 59, 60, 62, 63, 65, 66, 68, 69, 71, 72, 74, 75, 77, 78, 80, 81, 83, 84, 86, 87, 89, 90, 92, 93, 95, 97, 99, 101, 103, 105, 107, 109, 111)
]
UNREAD = {f"fresh-eval-{i}" for i in (4, 14, 16, 17, 26, 27, 30, 31, 34, 35, 36, 37, 40, 41, 42, 43, 46, 48, 49, 52, 55, 58, 61, 64, 67, 70, 73, 76, 79, 82, 85, 88, 91, 94, 96, 98, 100, 102, 104, 106, 108, 110, 112)}
DEV = "/work/shared/data/escalation-dev/conversations.jsonl"
MEANING = {"explicit_request", "cancellation", "legal_compliance", "sensitive_topic", "transaction_dispute"}
assert not UNREAD & set(READ), "an unread set in READ"
# Read (their misses looked at), but what they teach is not in the shipped file: learnt from, -56
# and -57 took the unread sets from 101 misses / 58 false alarms to 102 / 62 and the dev set from 6
# to 7 false alarms (session 25, BENCHMARKS.md). The shipped file is the one of `a3ae4b9`;
# regenerating it without them now differs by one counter-example (bj-026) and the order of the
# kept counter-examples (unread: 102 / 58).
# -59, -60, -62 and -63 (session 26), -65, -66, -68, -69, -71 and -72 (session 27) and -74, -75, -77 and
# -78 (session 28) are read for rules;
# they are not learnt from either.
HELD_BACK = {"fresh-eval-56", "fresh-eval-57", "fresh-eval-59", "fresh-eval-60", "fresh-eval-62", "fresh-eval-63", "fresh-eval-65", "fresh-eval-66",
             "fresh-eval-68", "fresh-eval-69", "fresh-eval-71", "fresh-eval-72", "fresh-eval-74", "fresh-eval-75", "fresh-eval-77", "fresh-eval-78", "fresh-eval-80", "fresh-eval-81", "fresh-eval-83", "fresh-eval-84", "fresh-eval-86", "fresh-eval-87", "fresh-eval-89", "fresh-eval-90",
             "fresh-eval-92", "fresh-eval-93", "fresh-eval-95", "fresh-eval-97", "fresh-eval-99", "fresh-eval-101", "fresh-eval-103", "fresh-eval-105", "fresh-eval-107", "fresh-eval-109", "fresh-eval-111"}

args = sys.argv[1:]
with_dev = "--with-dev" in args
with_neutral = "--neutral" in args
with_false_alarms = "--false-alarms" in args
with_early = "--early" in args
with_fired = "--fired" in args
args = [a for a in args if a not in ("--with-dev", "--neutral", "--false-alarms", "--early", "--fired")]
files = [os.path.join(ROOT, "data", s, "conversations.jsonl") for s in READ if s not in HELD_BACK]
if with_dev:
    dev = os.environ.get("BATON_DEV_SET", DEV)
    if not os.path.exists(dev):
        sys.exit(f"the dev set is not at {dev} (set BATON_DEV_SET)")
    files.append(dev)
out_path = args[0] if args else "/tmp/learned-evaluation-sets.jsonl"


def category(note):
    """The sensitive category a label's note names when the skill is not billing: a minor, a
    danger, else medical (all three go to the same skill, so the choice changes the words only)."""
    import re
    n = note.lower()
    if re.search(r"\b(minor|child|children|kid|kids|teen|teenager|aged? \d+|\d+-year-old|under 18|"
                 r"underage|son|daughter|boy|girl|school)\b", n):
        return "minor"
    if re.search(r"\b(safety|danger|dangerous|unsafe|fire|gas|smoke|threat|hazard|electric|"
                 r"violence|abuse|stalk\w*|harass\w*)\b", n):
        return "safety"
    return "medical"


def meaning_false_alarms(path, early=False):
    """{conversation id: (message index, reason)} of the false alarms `baton eval --errors`
    reports in `path` whose first reason the meaning tier heard. With `early`, also the
    escalations the meaning tier called before the labelled message."""
    import re, subprocess
    binary = os.environ.get("BATON_BIN", os.path.join(ROOT, "target", "release", "baton"))
    run = subprocess.run([binary, "eval", "--errors", path], capture_output=True, text=True)
    if run.returncode not in (0, 1) or not run.stdout:
        sys.exit(f"{binary} eval --errors {path} failed: {run.stderr[:500]}")
    found, current = {}, None
    for line in run.stdout.splitlines():
        head = re.match(r"^- (\S+) \[(.*)\]$", line)
        if head:
            kinds = head.group(2).split(", ")
            current = head.group(1) if "false_positive" in kinds or (early and "early" in kinds) else None
            continue
        reason = re.match(r'^\s+(\w+) @(\d+): .*\| evidence: "means: ', line)
        if current and reason:
            found[current] = (int(reason.group(2)), reason.group(1))
            current = None
        elif current and re.match(r"^\s+\w+ @\d+: ", line):
            current = None  # the first reason is a rule's: a counter-example would not silence it
    return found


def fired_sentences(path):
    """{conversation id: {message index: [sentence, ...]}}: the sentences the meaning tier fired
    on in the false alarms of `path` (`baton eval --errors --explain`, lines marked FIRES)."""
    import re, subprocess
    binary = os.environ.get("BATON_BIN", os.path.join(ROOT, "target", "release", "baton"))
    run = subprocess.run([binary, "eval", "--errors", "--explain", path], capture_output=True, text=True)
    found, current, sentence = {}, None, None
    explain = False
    for line in run.stdout.splitlines():
        if line.startswith("what the meaning detectors heard"):
            explain = True
            continue
        if not explain:
            continue
        head = re.match(r"^- (\S+) \[(.*)\]$", line)
        if head:
            current = head.group(1) if "false_positive" in head.group(2).split(", ") else None
            continue
        said = re.match(r'^\s+@(\d+) "(.*)"$', line)
        if said:
            sentence = (int(said.group(1)), said.group(2).strip())
            continue
        if current and sentence and line.rstrip().endswith("FIRES"):
            detector = line.split()[0]
            found.setdefault(current, {}).setdefault(sentence[0], []).append((sentence[1], detector))
    return found


# Feedback is an append: the counter-examples already in the output file stay (the engine that
# finds false alarms now has them in, so it no longer reports the ones they silence); a false
# alarm the engine still raises joins them unless its message is already there.
kept = []
if with_false_alarms and os.path.exists(out_path):
    prefixes = {json.loads(open(f).readline())["id"].split("-")[0] for f in files}
    for line in open(out_path):
        r = json.loads(line)
        if r.get("counter") and r.get("from", "").split("-")[0] in prefixes:
            kept.append(r)
examples = neutral = counter = 0
with open(out_path, "w") as out:
    for r in kept:
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
        counter += 1
    for f in files:
        alarms = meaning_false_alarms(f, with_early) if with_false_alarms else {}
        fired = fired_sentences(f) if with_fired else {}
        for line in open(f):
            c = json.loads(line)
            e = c["expected"]
            domain = "eval-" + c["id"].split("-")[0]
            topic = e.get("skill") if e.get("skill") in ("billing", "technical", "general") else "general"
            if e["escalate"] and e["reason"] in MEANING:
                r = {"text": c["messages"][e["at"]]["text"], "intent": e["reason"], "topic": topic,
                     "domain": domain, "from": c["id"]}
                if e["reason"] == "sensitive_topic":
                    # The labels name no category; their skill and note do (billing is hardship
                    # with payments). The category is what an agent reads in the evidence.
                    r["sensitive"] = "hardship" if e["skill"] == "billing" else category(e.get("note", ""))
                out.write(json.dumps(r, ensure_ascii=False) + "\n")
                examples += 1
            # An early call counts only when it heard another reason than the label's.
            if c["id"] in alarms and (not e["escalate"] or alarms[c["id"]][1] != e["reason"]):
                at, reason = alarms[c["id"]]
                # The whole message; no topic: a conversation that must not escalate has no skill
                # label.
                if not any(k["from"] == c["id"] and k["text"] == c["messages"][at]["text"] for k in kept):
                    out.write(json.dumps({"text": c["messages"][at]["text"], "intent": reason, "counter": True,
                                          "domain": domain, "from": c["id"]},
                                         ensure_ascii=False) + "\n")
                    counter += 1
            if with_fired and c["id"] in fired:
                # The sentence the meaning tier heard, as the agent's verdict names it: the tier
                # judges sentences, and a whole message's vector does not veto one of them.
                for at, sentences in fired[c["id"]].items():
                    for text, detector in sentences:
                        if detector not in MEANING or any(k["from"] == c["id"] and k["text"] == text for k in kept):
                            continue
                        out.write(json.dumps({"text": text, "intent": detector,
                                              "counter": True, "domain": domain, "from": c["id"]},
                                             ensure_ascii=False) + "\n")
                        counter += 1
            if not e["escalate"] and with_neutral:
                for m in c["messages"]:
                    if m["role"] == "customer":
                        out.write(json.dumps({"text": m["text"], "intent": "none", "topic": "general",
                                              "domain": domain, "from": c["id"]}, ensure_ascii=False) + "\n")
                        neutral += 1
print(f"{out_path}: {examples} examples, {counter} counter-examples, {neutral} neutral lines from {len(files)} files")
