#!/usr/bin/env bash
# Report flood: starts `baton serve` on a fresh SQLite file with 3 resolved, judged handoffs
# (so reports replay suggested policy changes), sends N `GET /v1/report` in a row with curl, then
# prints each answer's time, the server's CPU while answering and in the 10 s after the last
# answer, its RSS, and the slowest `/healthz` meanwhile. Fails loudly if any step fails.
# With JUDGED=0 the handoffs stay open: nothing is judged, so no suggestion can be made.
# Usage: [JUDGED=0] scripts/bench_report_flood.sh [calls=40] [baton binary=target/release/baton]
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-40}
bin=${2:-}
if [[ -z "$bin" ]]; then
  cargo build --release -q -p baton --bin baton
  bin=target/release/baton
fi
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
db="$dir/flood.db"
admin=$("$bin" keys create --db "$db" --role admin --name admin 2>/dev/null)
bot=$("$bin" keys create --db "$db" --role integrator --name bot 2>/dev/null)
BATON_LOG=warn "$bin" serve --db "$db" --listen 127.0.0.1:0 > "$dir/out" &
pid=$!
for _ in $(seq 100); do grep -q http "$dir/out" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$dir/out")
call() { # METHOD PATH KEY [BODY]
  curl -sf -X "$1" "$url$2" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' ${4:+-d "$4"}
}
call PUT /v1/agents/a1 "$admin" '{"name":"Ana","skills":["billing","technical","retention","legal","enterprise","general"],"capacity":50,"seniority":"senior","team":"general"}' > /dev/null
agent=$("$bin" keys create --db "$db" --role agent --name ana --agent a1 2>/dev/null)
call PUT /v1/agents/a1/status "$agent" '{"status":"available"}' > /dev/null
for i in 1 2 3; do
  h=$(call POST "/v1/conversations/c$i/messages" "$bot" \
    "{\"customer\":{\"id\":\"u$i\",\"tier\":\"standard\"},\"message\":{\"role\":\"customer\",\"text\":\"my bill is wrong, I want to talk to a real person\"}}" |
    grep -o '"id":"h-[^"]*"' | cut -d'"' -f4)
  call POST "/v1/handoffs/$h/accept" "$agent" '{"agent_id":"a1"}' > /dev/null
  [[ ${JUDGED:-1} == 0 ]] && continue
  necessary=$([[ $i == 1 ]] && echo false || echo true)
  call POST "/v1/handoffs/$h/resolve" "$agent" "{\"resolution\":\"done\",\"necessary\":$necessary}" > /dev/null
done
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss() { awk '/VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$pid/status"; }
hz=$(getconf CLK_TCK)
echo "server RSS before: $(rss)"
t0=$(ticks)
health_worst=0
(
  for _ in $(seq 200); do
    curl -s -o /dev/null -w '%{time_total}\n' "$url/healthz"
    sleep 0.05
  done > "$dir/health"
) &
hpid=$!
for _ in $(seq "$calls"); do
  curl -sf -o /dev/null -w '%{time_total}\n' "$url/v1/report" -H "Authorization: Bearer $admin"
done > "$dir/times"
t1=$(ticks)
echo "report answers (s): min $(sort -n "$dir/times" | head -1), median $(sort -n "$dir/times" | sed -n "$((calls / 2 + 1))p"), max $(sort -n "$dir/times" | tail -1)"
echo "server CPU while answering $calls reports: $(( (t1 - t0) * 1000 / hz )) ms; RSS $(rss)"
for s in 1 2 5 10; do
  sleep $(( s == 1 ? 1 : (s == 2 ? 1 : (s == 5 ? 3 : 5)) ))
  echo "  ${s} s after the last answer: CPU since it $(( ($(ticks) - t1) * 1000 / hz )) ms, RSS $(rss)"
done
kill $hpid 2>/dev/null || true
echo "slowest /healthz meanwhile: $(sort -n "$dir/health" | tail -1) s"
echo "server peak RSS: $(grep VmHWM /proc/$pid/status | awk '{printf "%.1f MB", $2/1024}')"
