# Sourced by tools/quickstart.sh and tools/ablate.sh: starts `m1rl reward-server` on loopback (port 0), stops it when
# the calling script exits, and waits for its "listening on HOST:PORT" line.
# Usage: start_reward_server M1RL LOG_FILE NAME   -> sets REWARD_ADDR (host:port) and REWARD_PID; exits 1 on failure.
start_reward_server() {
  local m1rl=$1 log=$2 name=$3
  "$m1rl" reward-server --host 127.0.0.1 --port 0 --workers 2 >"$log" 2>&1 &
  REWARD_PID=$!
  trap 'kill "$REWARD_PID" 2>/dev/null || true; wait "$REWARD_PID" 2>/dev/null || true' EXIT
  REWARD_ADDR=
  for _ in $(seq 1 300); do
    REWARD_ADDR=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$log" | head -n 1)
    [[ -n "$REWARD_ADDR" ]] && return 0
    if ! kill -0 "$REWARD_PID" 2>/dev/null; then
      echo "$name: the reward server exited:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$name: reward server did not print 'listening on' within 30 s" >&2
  cat "$log" >&2
  exit 1
}
