#!/usr/bin/env bash
# Starts N ranks of an m1rl command on this host with torchrun's environment contract
# (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1, MASTER_PORT). Rank 0's output goes to the
# terminal; rank r > 0 writes $M1RL_LAUNCH_LOG_DIR/rank<r>.log (default runs/launch). If any rank
# fails, the others are stopped and the script exits with that rank's status.
#
#   tools/launch/local.sh 2 -- build/m1rl train --config configs/quickstart.yaml
#
# Env: MASTER_PORT (default: a free port), M1RL_LAUNCH_LOG_DIR.
set -euo pipefail
if [[ $# -lt 3 || "$2" != "--" ]]; then
  echo "usage: $0 N -- command [args...]" >&2
  exit 2
fi
N=$1
shift 2
if ! [[ "$N" =~ ^[1-9][0-9]*$ ]]; then
  echo "$0: N must be a positive integer, got '$N'" >&2
  exit 2
fi
port=${MASTER_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 29500)}
log_dir=${M1RL_LAUNCH_LOG_DIR:-runs/launch}
mkdir -p "$log_dir"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup INT TERM
for ((r = 0; r < N; r++)); do
  if ((r == 0)); then
    RANK=$r WORLD_SIZE=$N LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$@" &
  else
    RANK=$r WORLD_SIZE=$N LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$@" >"$log_dir/rank$r.log" 2>&1 &
  fi
  pids+=($!)
done
status=0
# Wait for the first rank to finish; a failure stops the rest.
remaining=${#pids[@]}
while ((remaining > 0)); do
  if wait -n; then
    remaining=$((remaining - 1))
  else
    status=$?
    echo "$0: a rank exited with status $status; stopping the others" >&2
    cleanup
    wait || true
    exit "$status"
  fi
done
exit 0
