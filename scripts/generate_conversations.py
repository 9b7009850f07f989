#!/usr/bin/env python3
"""Write a large conversation file for throughput and memory runs.

Usage: python3 scripts/generate_conversations.py TARGET_BYTES OUT_FILE [SEED_FILE]
Cycles through the conversations of SEED_FILE (default examples/conversations.jsonl), giving each
copy a new id and customer id and varying numbers in the texts, until TARGET_BYTES are written.
Prints the number of conversations and messages written.
"""
import json, random, sys

target = int(float(sys.argv[1]))
out_path = sys.argv[2]
seed_path = sys.argv[3] if len(sys.argv) > 3 else "examples/conversations.jsonl"
seeds = [json.loads(l) for l in open(seed_path, encoding="utf-8") if l.strip()]
rng = random.Random(7)
written = conversations = messages = 0
with open(out_path, "w", encoding="utf-8") as out:
    while written < target:
        c = json.loads(json.dumps(seeds[conversations % len(seeds)]))
        c["id"] = f"gen-{conversations}"
        c["customer"]["id"] = f"cust-{rng.randrange(1_000_000)}"
        for m in c["messages"]:
            m["text"] = m["text"].replace("2", str(rng.randrange(10)))
        c.pop("expected", None)
        line = json.dumps(c, ensure_ascii=False) + "\n"
        out.write(line)
        written += len(line.encode("utf-8"))
        conversations += 1
        messages += len(c["messages"])
print(f"{conversations} conversations, {messages} messages, {written} bytes -> {out_path}")
