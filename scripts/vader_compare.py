#!/usr/bin/env python3
"""Compare `baton sentiment` with the Python reference (vaderSentiment) side by side.

Usage: python3 scripts/vader_compare.py [DATA_DIR] [BATON_BINARY [REFERENCE_BATON_BINARY]]
Needs `pip install vaderSentiment`. Prints, per corpus: Pearson r and weighted 3-class F1 against
the human ratings for both implementations, how many texts score identically, and texts/second of
each on one core (same machine, same run). Baton's time includes process start and lexicon load.

Then the issue's target, on a 10,000-line file of varied text (the 4,200 tweets, the 3,708
Amazon snippets and 2,092 lines of data/intents/): vaderSentiment's `polarity_scores` in-process
(best of 5) against the whole `baton sentiment FILE` process, wall and CPU (user + system, from
the kernel's accounting of the child), best and median of 21 runs, on all cores and pinned to one;
with a second binary, the same for it in the same rounds (runs alternate).
"""
import glob, json, math, os, resource, statistics, subprocess, sys, tempfile, time

DATA = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/vader-icwsm2014"
BATON = sys.argv[2] if len(sys.argv) > 2 else "target/release/baton"
REPEAT = 5  # rounds for timing

def load(path):
    ids, gold, texts = [], [], []
    with open(path, encoding="utf-8", newline="") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line:
                continue
            parts = line.split("\t")
            ids.append(parts[0]); gold.append(float(parts[1]) / 4.0)
            texts.append(" ".join(parts[2:]).replace("\n", " ").replace("\r", " "))
    return gold, texts

def pearson(x, y):
    n = len(x); mx = sum(x) / n; my = sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x); syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)

def label(v):
    return 1 if v >= 0.05 else (-1 if v <= -0.05 else 0)

def weighted_f1(gold, pred):
    g = [label(v) for v in gold]; p = [label(v) for v in pred]
    total = 0.0
    for c in (-1, 0, 1):
        tp = sum(1 for a, b in zip(g, p) if a == c and b == c)
        fp = sum(1 for a, b in zip(g, p) if a != c and b == c)
        fn = sum(1 for a, b in zip(g, p) if a == c and b != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        total += f1 * sum(1 for a in g if a == c)
    return total / len(g)

def main():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    analyzer = SentimentIntensityAnalyzer()
    env = dict(os.environ)
    print(f"{'corpus':28} {'impl':10} {'r':>6} {'F1w':>6} {'texts/s':>10} {'same':>8}")
    for name in ("tweets_GroundTruth.txt", "amazonReviewSnippets_GroundTruth.txt"):
        gold, texts = load(os.path.join(DATA, name))
        payload = ("\n".join(texts) + "\n").encode("utf-8")
        py_best = rs_best = float("inf")
        for _ in range(REPEAT):
            t = time.perf_counter()
            ref = [analyzer.polarity_scores(x)["compound"] for x in texts]
            py_best = min(py_best, time.perf_counter() - t)
            t = time.perf_counter()
            out = subprocess.run(["taskset", "-c", "0", BATON, "sentiment"], input=payload,
                                 capture_output=True, check=True, env=env).stdout
            rs_best = min(rs_best, time.perf_counter() - t)
        ours = [json.loads(l)["compound"] for l in out.decode().splitlines()]
        assert len(ours) == len(texts), (len(ours), len(texts))
        same = sum(1 for a, b in zip(ours, ref) if abs(a - b) < 1e-9)
        n = len(texts)
        print(f"{name:28} {'python':10} {pearson(gold, ref):6.3f} {weighted_f1(gold, ref):6.3f} {n / py_best:10.0f}")
        print(f"{'':28} {'baton':10} {pearson(gold, ours):6.3f} {weighted_f1(gold, ours):6.3f} {n / rs_best:10.0f} {same:>4}/{n}")
        print(f"{'':28} speed ratio baton/python: {py_best / rs_best:.1f}x")
        for a, b, x in zip(ours, ref, texts):
            if abs(a - b) >= 1e-9 and os.environ.get("SHOW_DIFF"):
                print("  diff", a, b, x[:100])

def timed(cmd):
    """Wall and CPU seconds of one run of `cmd` (output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu

def whole_process_10k(binaries):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    texts = []
    for name in ("tweets_GroundTruth.txt", "amazonReviewSnippets_GroundTruth.txt"):
        texts += load(os.path.join(DATA, name))[1]
    for path in sorted(glob.glob("data/intents/*.jsonl")):
        with open(path, encoding="utf-8") as f:
            texts += [json.loads(l)["text"] for l in f]
    texts = texts[:10000]
    assert len(texts) == 10000, "expected at least 10,000 texts"
    fd, path = tempfile.mkstemp(suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    analyzer = SentimentIntensityAnalyzer()
    py = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for x in texts:
            analyzer.polarity_scores(x)
        py = min(py, time.perf_counter() - t)
    print(f"\n10,000 varied lines: vaderSentiment in-process {py * 1e3:.1f} ms (best of 5)")
    runs = {(b, pin): [] for b in binaries for pin in (False, True)}
    for _ in range(21):
        for b in binaries:
            for pin in (False, True):
                cmd = (["taskset", "-c", "0"] if pin else []) + [b, "sentiment", path]
                runs[(b, pin)].append(timed(cmd))
    print(f"{'binary':34} {'cores':>5} {'wall best':>10} {'median':>8} {'ratio':>6} {'CPU med':>8} {'ratio':>6}")
    for (b, pin), r in runs.items():
        walls = sorted(w for w, _ in r)
        cpu = statistics.median(c for _, c in r)
        med = statistics.median(walls)
        print(f"{b[-34:]:34} {'1' if pin else 'all':>5} {walls[0] * 1e3:8.1f}ms {med * 1e3:6.1f}ms "
              f"{py / med:5.1f}x {cpu * 1e3:6.1f}ms {py / cpu:5.1f}x")
    os.unlink(path)

if __name__ == "__main__":
    main()
    whole_process_10k(sys.argv[2:4] if len(sys.argv) > 2 else [BATON])
