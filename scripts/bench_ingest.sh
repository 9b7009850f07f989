#!/usr/bin/env bash
# Durable ingest benchmark: starts `baton serve` on a fresh SQLite file, runs 64 concurrent
# clients on loopback for 10 s, prints throughput, latency, the server's CPU per acknowledged
# message (utime + stime from /proc/PID/stat over the load, start-up excluded), its peak RSS and
# the disk's fsyncs/second measured in the same run.
# Usage: [BATON=path/to/baton] [PERF_DATA=out.perf] scripts/bench_ingest.sh [clients=64] [seconds=10]
#   BATON: run this server binary instead of building the workspace's (to compare two builds
#   with the same load generator).
#   INGEST_FILE: post the conversations of this file (one JSON per line, e.g. from
#   `scripts/generate_conversations.py N FILE varied`) instead of one long synthetic conversation
#   per client: real traffic's mix (see crates/baton/examples/ingest_load.rs).
#   PERF_DATA: also record the server with `perf record -F 999 -e cpu-clock -g --call-graph dwarf`
#   during the load, into that file (`perf report -i FILE --no-children --stdio` reads it).
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-64}
seconds=${2:-10}
release=${CARGO_TARGET_DIR:-target}/release
cargo build --release -q -p baton --bin baton --example ingest_load
baton=${BATON:-$release/baton}
dir=$(mktemp -d)
pid=
perf_pid=
cleanup() {
  [ -n "$perf_pid" ] && kill -INT "$perf_pid" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
key=$("$baton" keys create --db "$dir/bench.db" --role integrator --name bench) || { echo "bench_ingest: cannot create a key" >&2; exit 1; }
admin=$("$baton" keys create --db "$dir/bench.db" --role admin --name bench-admin) || { echo "bench_ingest: cannot create a key" >&2; exit 1; }
BATON_RATE_LIMIT_PER_SECOND=0 BATON_LOG=warn "$baton" serve --db "$dir/bench.db" --listen 127.0.0.1:0 > "$dir/out" &
pid=$!
for _ in $(seq 100); do grep -q http "$dir/out" && break; sleep 0.1; done
if ! grep -q http "$dir/out"; then
  echo "bench_ingest: the server did not start within 10 s:" >&2
  cat "$dir/out" >&2
  exit 1
fi
url=$(grep -o 'http://[0-9.:]*' "$dir/out")
# Server CPU in clock ticks (utime + stime, fields 14 and 15 of /proc/PID/stat, counted after the
# command name, which is in parentheses).
cpu_ticks() { sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'; }
if [ -n "${PERF_DATA:-}" ]; then
  perf record -q -F 999 -e cpu-clock -g --call-graph dwarf -p "$pid" -o "$PERF_DATA" 2>"$dir/perf.err" &
  perf_pid=$!
  sleep 1
fi
before=$(cpu_ticks)
# The load generator measures the disk's fsync rate for 3 s after the load; the idle server's CPU
# over those seconds (a sweep per second) is counted too, which is noise next to the load's.
result=$("$release/examples/ingest_load" "$url" "$key" "$dir" "$clients" "$seconds" ${INGEST_FILE:+"$INGEST_FILE"})
after=$(cpu_ticks)
if [ -n "$perf_pid" ]; then
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
  perf_pid=
fi
hz=$(getconf CLK_TCK)
acknowledged=$(jq .acknowledged <<<"$result")
echo "$result"
echo "server CPU: $(awk -v t=$((after - before)) -v hz="$hz" -v n="$acknowledged" \
  'BEGIN {printf "%.2f s, %.1f us per acknowledged message", t / hz, n ? t / hz / n * 1e6 : 0}')"
curl -s -H "Authorization: Bearer $admin" "$url/metrics" | grep -E '^baton_store_(commits|writes)_total' || true
echo "server peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MB"}')"
# Of the RSS now: the heap and stacks (anonymous) and the database file's pages mapped by the
# readers (file-backed, the kernel's page cache: reclaimable, not the server's own memory).
echo "server RSS now: $(awk '/^Rss(Anon|File):/ {printf "%s %.1f MB  ", $1, $2/1024}' /proc/$pid/status)"
