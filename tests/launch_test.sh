#!/usr/bin/env bash
# The launcher scripts end to end on CPU (2 ranks over Gloo, a tiny RL run):
#  1. tools/launch/local.sh with torchrun's variables;
#  2. tools/launch/slurm.sbatch in a simulated Slurm job: `srun` and `scontrol` are shims on PATH that
#     start the tasks with SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID as Slurm does; the script starts its
#     reward server and the ranks score through it over gRPC.
# Each run must exit 0 with both ranks' metrics of both steps.
#
#   tests/launch_test.sh BUILD/m1rl
set -euo pipefail
M1RL=$(realpath "${1:?usage: $0 PATH/TO/m1rl}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}" $(cat "$work/shim/bg.pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fail() { echo "launch_test: FAIL: $*" >&2; exit 1; }

for i in $(seq 0 39); do
  echo "{\"id\":\"r$i\",\"prompt\":\"$((i / 10))+$((i % 10))=\",\"answer\":\"$((i / 10 + i % 10))\",\"domain\":\"math\"}"
done >"$work/train.jsonl"
cat >"$work/rl.yaml" <<YAML
name: launch-test
model: {preset: tiny2, vocab_size: 99, tokenizer: char, seed: 7}
rollout: {n_samples: 2, temperature: 1.0, max_new_tokens: 4, max_batch_size: 8}
algorithm: {preset: cispo, is_weight: {eps_high: 4.0}, dynamic_sampling: {enabled: false}, overlong: {enabled: false}}
trainer:
  mode: rl
  steps: 2
  prompts_per_step: 4
  minibatches_per_step: 1
  prompt_template: raw
  seed: 5
  optim: {lr: 0.001, grad_clip: 1.0}
  checkpoint: {every_steps: 0}
data: {train_path: $work/train.jsonl}
YAML

check_run() {  # $1: metrics dir, $2: log; both steps written by rank 0 of a 2-rank run
  grep -q '"step":2' "$1/metrics.jsonl" 2>/dev/null || { cat "$2" >&2; fail "no step 2 in $1/metrics.jsonl"; }
  grep -q "rank 0 of 2" "$2" || { cat "$2" >&2; fail "rank 0 did not see a world of 2 ($2)"; }
}

# 1. local.sh: torchrun's contract.
MASTER_PORT=$(free_port) M1RL_LAUNCH_LOG_DIR="$work/local_logs" "$ROOT/tools/launch/local.sh" 2 -- \
  "$M1RL" train --config "$work/rl.yaml" --set reward.mode=in_process \
  --set "trainer.metrics_dir=$work/local/metrics" >"$work/local.log" 2>&1 || { cat "$work/local.log" >&2; fail "local.sh exited $?"; }
check_run "$work/local/metrics" "$work/local.log"
echo "launch_test: local.sh: 2 ranks, 2 steps: ok"

# 2. slurm.sbatch under shims.
mkdir -p "$work/shim"
cat >"$work/shim/scontrol" <<'SH'
#!/usr/bin/env bash
[ "$1 $2" = "show hostnames" ] || { echo "scontrol shim: unexpected '$*'" >&2; exit 2; }
tr ',' '\n' <<<"$3"
SH
cat >"$work/shim/srun" <<'SH'
#!/usr/bin/env bash
# Options until the program; --ntasks=N (default SLURM_NTASKS) copies with Slurm's task variables.
n=$SLURM_NTASKS
while [[ $# -gt 0 && "$1" == --* ]]; do
  case "$1" in --ntasks=*) n=${1#--ntasks=} ;; esac
  shift
done
if [ "$n" = 1 ]; then  # a single-task step (the reward server): may run in the background
  echo $$ >>"$(dirname "$0")/bg.pids"
  exec env SLURM_PROCID=0 SLURM_LOCALID=0 SLURM_NTASKS=1 "$@"
fi
pids=()
for ((r = 0; r < n; r++)); do
  SLURM_PROCID=$r SLURM_LOCALID=$r "$@" &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=$?; done
exit $status
SH
chmod +x "$work/shim/scontrol" "$work/shim/srun"
PATH="$work/shim:$PATH" SLURM_JOB_NODELIST=localhost SLURM_JOB_ID=4242 SLURM_NTASKS=2 \
  MASTER_PORT=$(free_port) M1RL="$M1RL" \
  bash "$ROOT/tools/launch/slurm.sbatch" "$work/rl.yaml" --set "trainer.metrics_dir=$work/slurm/metrics" \
  >"$work/slurm.log" 2>&1 || { cat "$work/slurm.log" >&2; fail "slurm.sbatch exited $?"; }
check_run "$work/slurm/metrics" "$work/slurm.log"
grep -q "listening on" "$work/slurm.log" || { cat "$work/slurm.log" >&2; fail "the job's reward server did not start"; }
grep -q "mode: grpc" "$work/slurm.log" || { cat "$work/slurm.log" >&2; fail "the ranks did not use the job's reward server"; }
echo "launch_test: slurm.sbatch (simulated): reward server + 2 ranks, 2 steps: ok"
