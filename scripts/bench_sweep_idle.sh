#!/usr/bin/env bash
# What the idle server costs after a load has left handoffs waiting: starts `baton serve` on a
# fresh SQLite file, posts real traffic for SECONDS (32 clients, INGEST_FILE, default
# /tmp/varied30.jsonl from `scripts/generate_conversations.py 30000000 /tmp/varied30.jsonl varied`),
# then prints the handoffs by status and the server's CPU (utime + stime from /proc) over the next
# 10 s, when only the sweep (every second) and the queue run. Nobody is on shift, so every
# escalation waits as a callback: the figure shows what the sweep's cost grows with.
# Usage: [BATON=path/to/baton] scripts/bench_sweep_idle.sh [seconds=20]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
file=${INGEST_FILE:-/tmp/varied30.jsonl}
[ -f "$file" ] || { echo "bench_sweep_idle: no conversation file at $file (see the header)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "bench_sweep_idle: needs the sqlite3 command" >&2; exit 1; }
release=${CARGO_TARGET_DIR:-target}/release
cargo build --release -q -p baton --bin baton --example ingest_load
baton=${BATON:-$release/baton}
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
key=$("$baton" keys create --db "$dir/b.db" --role integrator --name bench 2>/dev/null)
BATON_RATE_LIMIT_PER_SECOND=0 BATON_LOG=warn "$baton" serve --db "$dir/b.db" --listen 127.0.0.1:0 > "$dir/out" &
pid=$!
for _ in $(seq 100); do grep -q http "$dir/out" && break; sleep 0.1; done
grep -q http "$dir/out" || { echo "bench_sweep_idle: the server did not start" >&2; cat "$dir/out" >&2; exit 1; }
url=$(grep -o 'http://[0-9.:]*' "$dir/out")
"$release/examples/ingest_load" "$url" "$key" "$dir" 32 "$seconds" "$file" | jq -c '{acknowledged, messages_per_second, p99_ms}'
sleep 1
cpu() { sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'; }
a=$(cpu); sleep 10; b=$(cpu)
echo "handoffs: $(sqlite3 "$dir/b.db" "SELECT status || ' ' || count(*) FROM handoffs GROUP BY status" | tr '\n' ' ')"
echo "idle server CPU over 10 s: $(( (b - a) * 1000 / $(getconf CLK_TCK) )) ms"
