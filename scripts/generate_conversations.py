#!/usr/bin/env python3
"""Write a large conversation file for throughput and memory runs.

Usage: python3 scripts/generate_conversations.py TARGET_BYTES OUT_FILE [SEED_FILE]
Cycles through the conversations of SEED_FILE (default examples/conversations.jsonl), giving each
copy a new id and customer id and varying numbers in the texts, until TARGET_BYTES are written.
SEED_FILE `varied` recombines instead (as the `varied` bench does): 2 to 5 exchanges per
conversation, customer messages drawn from data/intents/ and the dev set's customer messages
(../shared/data/escalation-dev when present), AI replies from the dev set, so no two
conversations are alike (cycling a few keeps caches warm and flatters throughput).
Prints the number of conversations and messages written.
"""
import json, random, sys

target = int(float(sys.argv[1]))
out_path = sys.argv[2]
seed_path = sys.argv[3] if len(sys.argv) > 3 else "examples/conversations.jsonl"
rng = random.Random(7)
if seed_path == "varied":
    import glob
    customer = [json.loads(l)["text"] for f in sorted(glob.glob("data/intents/*.jsonl"))
                for l in open(f, encoding="utf-8") if l.strip()]
    ai = ["I can help with that. Could you share your order number?",
          "Thanks, I've checked your account and everything looks fine on our side.",
          "I'm not sure, but it might be a temporary issue. I think it should resolve itself."]
    dev = "../shared/data/escalation-dev/conversations.jsonl"
    try:
        for l in open(dev, encoding="utf-8"):
            if l.strip():
                for m in json.loads(l)["messages"]:
                    (customer if m["role"] == "customer" else ai).append(m["text"])
    except FileNotFoundError:
        pass

    def recombined():
        template = json.loads(open("examples/conversations.jsonl", encoding="utf-8").readline())
        msgs = []
        for i in range(rng.randint(2, 5)):
            for role, pool, second in (("customer", customer, 0), ("ai", ai, 30)):
                at = f"2026-11-02T09:{i:02d}:{second:02d}Z"
                msgs.append({"role": role, "text": rng.choice(pool), "at": at})
        template["messages"] = msgs
        return template

    seeds = [recombined() for _ in range(5000)]
else:
    seeds = [json.loads(l) for l in open(seed_path, encoding="utf-8") if l.strip()]
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
