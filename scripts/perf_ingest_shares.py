#!/usr/bin/env python3
"""Shares of a server profile by where the time goes in the ingest path.

Reads `perf script --no-inline -F comm,ip,sym` output of a `perf record -g --call-graph dwarf`
profile of `baton serve` (scripts/bench_ingest.sh with PERF_DATA=FILE records one) and counts
each sample once, in the first category below whose pattern appears anywhere in its stack.

    perf script -i FILE --no-inline -F comm,ip,sym > FILE.txt
    scripts/perf_ingest_shares.py FILE.txt
"""
import collections
import re
import sys

CATEGORIES = [
    ("writer: commit (WAL frames, fsync)",
     r"sqlite3VdbeHalt|sqlite3BtreeCommitPhase|pagerWalFrames|unixSync"),
    ("writer: checkpoint", r"walCheckpoint"),
    ("writer: savepoint/begin", r"Savepoint|savepoint|transaction_with_behavior"),
    ("writer: apply (statements)", r"writes::apply"),
    ("writer: other", r"writer_loop"),
    ("reads (blocking pool)", r"Backend>::read|open_reader|load_handoff|reads::"),
    ("engine fold", r"ingest::fold|ConversationState::push"),
    ("JSON body parse", r"JsonBody|json_body|serde_path_to_error"),
    ("auth", r"Caller as axum|auth::verify|KeyCache"),
    ("metrics middleware", r"metrics::track"),
    ("response JSON", r"JsonText|serde_json::ser|to_vec"),
    ("ingest other", r"ingest::ingest"),
    ("hyper write/send", r"poll_flush|poll_write_priv|__send"),
    ("hyper read/parse", r"poll_read_from_io|Buffered<T,B>::parse|h1::role|__libc_recv"),
    ("axum/tower/hyper dispatch", r"axum::|tower::|hyper::|tower_http"),
    ("webhook/sweep loops", r"delivery_loop|sweep_loop"),
    ("tokio park/epoll", r"park_internal|epoll_wait|Driver::turn"),
    ("tokio sched other", r"tokio::"),
]


def samples(path):
    """Yields (thread name, frames leaf first) per sample."""
    comm, frames = None, []
    for line in open(path, encoding="utf-8", errors="replace"):
        if not line.strip():
            continue
        if not line.startswith("\t"):
            if comm is not None:
                yield comm, frames
            comm, frames = line.split()[0], []
        else:
            parts = line.strip().split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else "?")
    if comm is not None:
        yield comm, frames


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: perf_ingest_shares.py PERF_SCRIPT_OUTPUT")
    patterns = [(name, re.compile(p)) for name, p in CATEGORIES]
    shares, threads, total = collections.Counter(), collections.Counter(), 0
    for comm, frames in samples(sys.argv[1]):
        total += 1
        threads[comm] += 1
        stack = "\n".join(frames)
        name = next((n for n, p in patterns if p.search(stack)), f"{comm}: elsewhere")
        shares[name] += 1
    if not total:
        sys.exit(f"no samples in {sys.argv[1]}")
    print(f"{total} samples by thread: {dict(threads)}")
    for name, n in shares.most_common():
        print(f"{100 * n / total:6.1f}%  {name}")


if __name__ == "__main__":
    main()
