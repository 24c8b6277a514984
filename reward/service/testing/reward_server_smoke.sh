#!/usr/bin/env bash
# Starts `m1rl reward-server --port 0`, waits for its "listening on" line, stops it with SIGTERM and
# checks that it shut down gracefully (exit 0, "stopped"). Usage: reward_server_smoke.sh path/to/m1rl
set -euo pipefail
m1rl=$1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$m1rl" reward-server --port 0 --workers 1 --stats-interval-s 1 >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  grep -q "^listening on 127.0.0.1:[1-9][0-9]*$" "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "server exited early"; exit 1; }
  sleep 0.05
done
grep -q "^listening on " "$log" || { cat "$log"; echo "no 'listening on' line"; kill -KILL "$pid"; exit 1; }
sleep 1.2  # one stats line
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
cat "$log"
[ "$status" -eq 0 ] || { echo "exit status $status"; exit 1; }
grep -q "^reward-server: stopped$" "$log"
grep -q "^reward-server: requests=0 items=0" "$log"
echo "smoke: ok"
