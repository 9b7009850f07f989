#!/usr/bin/env bash
# Durable ingest benchmark: starts `baton serve` on a fresh SQLite file, runs 64 concurrent
# clients on loopback for 10 s, prints throughput, latency, the server's peak RSS and the disk's
# fsyncs/second measured in the same run.
# Usage: scripts/bench_ingest.sh [clients=64] [seconds=10]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-64}
seconds=${2:-10}
cargo build --release -q -p baton --bin baton --example ingest_load
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
key=$(target/release/baton keys create --db "$dir/bench.db" --role integrator --name bench) || { echo "bench_ingest: cannot create a key" >&2; exit 1; }
admin=$(target/release/baton keys create --db "$dir/bench.db" --role admin --name bench-admin) || { echo "bench_ingest: cannot create a key" >&2; exit 1; }
BATON_RATE_LIMIT_PER_SECOND=0 BATON_LOG=warn target/release/baton serve --db "$dir/bench.db" --listen 127.0.0.1:0 > "$dir/out" &
pid=$!
for _ in $(seq 50); do grep -q http "$dir/out" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$dir/out")
target/release/examples/ingest_load "$url" "$key" "$dir" "$clients" "$seconds"
curl -s -H "Authorization: Bearer $admin" "$url/metrics" | grep -E '^baton_store_(commits|writes)_total' || true
echo "server peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MB"}')"
