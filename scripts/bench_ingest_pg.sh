#!/usr/bin/env bash
# Durable ingest on PostgreSQL with 1, 2 and 3 instances next to SQLite with one, measured one
# after the other in the same run: 64 clients on loopback for 10 s each (a client keeps to one
# instance). Needs a PostgreSQL server: BATON_TEST_POSTGRES (scripts/postgres.sh prints it).
# Usage: BATON_TEST_POSTGRES=postgres://... [INGEST_FILE=conversations.jsonl] scripts/bench_ingest_pg.sh [clients=64] [seconds=10]
#   INGEST_FILE: post the conversations of this file instead of one long synthetic conversation
#   per client (real traffic's mix; see scripts/bench_ingest.sh).
#   BATON: run this server binary instead of the workspace's release build (to compare builds).
#   INSTANCES: which PostgreSQL configurations to run, by instance count (default "1 2 3"; "3" for
#   A/B work on the 3-instance figures). The SQLite reference runs every time.
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-64}
seconds=${2:-10}
: "${BATON_TEST_POSTGRES:?set BATON_TEST_POSTGRES (scripts/postgres.sh)}"
instances=${INSTANCES:-1 2 3}
for n in $instances; do
  case $n in
    *[!0-9]*|0*) echo "bench_ingest_pg: INSTANCES takes instance counts (1 or more), not '$n'" >&2; exit 1 ;;
  esac
done
[ -n "${instances// }" ] || { echo "bench_ingest_pg: INSTANCES is empty" >&2; exit 1; }
cargo build --release -q -p baton --bin baton --example ingest_load
baton=${BATON:-target/release/baton}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
start() { # db n -> sets urls
  local db=$1 n=$2 i
  urls=""
  for i in $(seq 1 "$n"); do
    BATON_RATE_LIMIT_PER_SECOND=0 BATON_LOG=warn "$baton" serve --db "$db" --listen 127.0.0.1:0 > "$dir/out$i" &
    pids+=($!)
    for _ in $(seq 100); do grep -q http "$dir/out$i" && break; sleep 0.1; done
    if ! grep -q http "$dir/out$i"; then
      echo "bench_ingest_pg: instance $i on $db did not start within 10 s:" >&2
      cat "$dir/out$i" >&2
      exit 1
    fi
    urls="$urls${urls:+,}$(grep -o 'http://[0-9.:]*' "$dir/out$i")"
  done
}
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
run() { # label db n
  local label=$1 db=$2 n=$3 key
  if ! key=$("$baton" keys create --db "$db" --role integrator --name bench 2>"$dir/keys.err"); then
    echo "bench_ingest_pg: cannot create a key in $db ($label):" >&2
    cat "$dir/keys.err" >&2
    exit 1
  fi
  start "$db" "$n"
  echo "== $label"
  target/release/examples/ingest_load "$urls" "$key" "$dir" "$clients" "$seconds" ${INGEST_FILE:+"$INGEST_FILE"}
  stop
}
run "SQLite, 1 instance" "$dir/bench.db" 1
base=${BATON_TEST_POSTGRES%/*}
for n in $instances; do
  name="baton_bench_$$_$n"
  psql "$BATON_TEST_POSTGRES" -qc "CREATE DATABASE $name" || { echo "bench_ingest_pg: cannot create database $name" >&2; exit 1; }
  run "PostgreSQL, $n instance(s)" "$base/$name" "$n"
  psql "$BATON_TEST_POSTGRES" -qc "DROP DATABASE $name" || true
done
