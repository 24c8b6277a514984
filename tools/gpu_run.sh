#!/usr/bin/env bash
# The gpu_small run (configs/gpu_small.yaml) end to end on one GPU: make-data (long multiplication with a
# scratchpad: train problems and a disjoint held-out set) -> SFT (teaches the scratchpad) -> CISPO RL
# (evaluated on the held-out set every trainer.eval_every steps) -> a table of held-out accuracy by step.
#
# Resumable: each invocation stops after BUDGET_S seconds (default 540, so that one invocation stays
# under 10 minutes with start-up); run it again and it continues where it stopped (finished stages are
# skipped, an interrupted stage resumes from its newest checkpoint with --resume auto). Exit 0 when the
# budget ran out (prints "budget used; run again"), 0 when everything is done, 1 on a failure.
#
# Usage: tools/gpu_run.sh [--smoke | --small] [--data-only | --sft-only]
#   --smoke      a tiny model and 2-digit problems on CPU in about a minute (tests the pipeline, learns nothing)
#   --small      the ablation size (tools/lib/gpu_small_ablation.sh): a 8-layer hybrid MoE on 4x4-digit
#                problems (~610-character traces), so that several RL arms fit one device session
#   --data-only  make the data files (RUN_DIR/data) and stop
#   --sft-only   stop after the SFT policy is exported (RUN_DIR/sft_model)
#   env: BUILD_DIR (default build), RUN_DIR (default runs/gpu_small), BUDGET_S (default 540),
#        SKIP_BUILD=1 (use the existing BUILD_DIR/m1rl), SFT_STEPS (default 300; --small 1000), SFT_CKPT_EVERY (SFT
#        checkpoint interval, default 50), EXTRA_SET (more "path=value" overrides for both stages, space
#        separated; a stage's own --set below wins)
# Disk: a gpu_small checkpoint is ~20 GB (FP32 masters + AdamW moments); the SFT checkpoints are deleted
# once the SFT policy is exported, and RL keeps trainer.checkpoint.keep_last of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
BUILD_DIR=${BUILD_DIR:-build}
RUN_DIR=${RUN_DIR:-runs/gpu_small}
BUDGET_S=${BUDGET_S:-540}
CONFIG=configs/gpu_small.yaml
SMOKE=0
SMALL=0
DATA_ONLY=0
SFT_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    --small) SMALL=1 ;;
    --data-only) DATA_ONLY=1 ;;
    --sft-only) SFT_ONLY=1 ;;
    *) echo "gpu_run: unknown argument '$arg' (usage: tools/gpu_run.sh [--smoke | --small] [--data-only | --sft-only])" >&2
       exit 2 ;;
  esac
done

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" --target m1rl -j "$(nproc)"
fi
M1RL=$BUILD_DIR/m1rl
[[ -x "$M1RL" ]] || { echo "gpu_run: $M1RL not found (build it, or unset SKIP_BUILD)" >&2; exit 1; }

DIFFICULTY=6
N_TRAIN=20000
N_EVAL=256
SFT_STEPS_ENV=${SFT_STEPS:-}
SFT_STEPS=${SFT_STEPS:-300}
sets=()
if [[ $SMOKE == 1 ]]; then
  DIFFICULTY=2
  N_TRAIN=200
  N_EVAL=16
  SFT_STEPS=${SFT_STEPS_SMOKE:-4}
  # shellcheck source=tools/lib/gpu_small_smoke.sh
  source tools/lib/gpu_small_smoke.sh
  sets=("${GPU_SMALL_SMOKE_SETS[@]}")
elif [[ $SMALL == 1 ]]; then
  # shellcheck source=tools/lib/gpu_small_ablation.sh
  source tools/lib/gpu_small_ablation.sh
  DIFFICULTY=$GPU_SMALL_ABLATION_DIFFICULTY
  SFT_STEPS=${SFT_STEPS_ENV:-$GPU_SMALL_ABLATION_SFT_STEPS}
  sets=("${GPU_SMALL_ABLATION_SETS[@]}")
fi
# shellcheck disable=SC2206
[[ -n "${EXTRA_SET:-}" ]] && sets+=(${EXTRA_SET})
common=(--set "data.train_path=$RUN_DIR/data/train.jsonl" --set "data.eval_path=$RUN_DIR/data/eval.jsonl")
for s in "${sets[@]}"; do common+=(--set "$s"); done

remaining() { echo $((BUDGET_S - ($(date +%s) - t0))); }
# Runs one stage under the remaining budget; returns 0 when it finished, exits 0 when the budget ran out.
run_stage() {
  local name=$1; shift
  local left; left=$(remaining)
  if (( left < 20 )); then
    echo "gpu_run: budget used before stage $name; run again to continue"
    exit 0
  fi
  echo "gpu_run: stage $name ($left s left)"
  set +e
  timeout --signal=TERM --kill-after=15 "$left" "$M1RL" train --config "$CONFIG" "${common[@]}" "$@" \
    --resume auto --log-level warning
  local rc=$?
  set -e
  if (( rc == 124 || rc == 137 )); then
    echo "gpu_run: budget used during stage $name; run again to continue (it resumes from its checkpoint)"
    exit 0
  fi
  if (( rc != 0 )); then
    echo "gpu_run: stage $name failed (exit $rc)" >&2
    exit 1
  fi
}

mkdir -p "$RUN_DIR/data"
# --- data: deterministic, so a partial write is simply redone ---
if [[ ! -f "$RUN_DIR/data/DONE" ]]; then
  "$M1RL" make-data --task long_mult --difficulty "$DIFFICULTY" --n "$N_TRAIN" --seed 1 \
    --out "$RUN_DIR/data/train.jsonl"
  "$M1RL" make-data --task long_mult_heldout --difficulty "$DIFFICULTY" --n "$N_EVAL" --seed 2 \
    --out "$RUN_DIR/data/eval.jsonl"
  touch "$RUN_DIR/data/DONE"
fi
(( DATA_ONLY == 1 )) && exit 0

# --- SFT: the scratchpad demonstrations ("completion" of each row) ---
if [[ ! -f "$RUN_DIR/sft/DONE" ]]; then
  run_stage sft --set trainer.mode=sft --set "trainer.steps=$SFT_STEPS" --set trainer.optim.lr=3e-4 \
    --set trainer.eval_every=0 --set trainer.eval_at_start=false \
    --set "trainer.metrics_dir=$RUN_DIR/sft" --set "trainer.checkpoint.dir=$RUN_DIR/sft/checkpoints" \
    --set "trainer.checkpoint.every_steps=$([[ $SMOKE == 1 ]] && echo 2 || echo "${SFT_CKPT_EVERY:-50}")" \
    --set "trainer.export_hf_dir=$RUN_DIR/sft_model"
  touch "$RUN_DIR/sft/DONE"
  rm -rf "$RUN_DIR/sft/checkpoints"  # the exported sft_model is what RL starts from
fi
(( SFT_ONLY == 1 )) && { echo "gpu_run: SFT policy in $RUN_DIR/sft_model"; exit 0; }

# --- CISPO RL from the SFT policy, held-out evaluation every trainer.eval_every steps ---
if [[ ! -f "$RUN_DIR/rl/DONE" ]]; then
  run_stage rl --set "model.init_from=$RUN_DIR/sft_model" \
    --set "trainer.metrics_dir=$RUN_DIR/rl" --set "trainer.checkpoint.dir=$RUN_DIR/rl/checkpoints"
  touch "$RUN_DIR/rl/DONE"
fi

# --- held-out accuracy by step ---
echo "step  held-out accuracy"
sed -n 's/.*"eval\/accuracy":\([0-9.e-]*\).*"step":\([0-9]*\).*/\2 \1/p; s/.*"step":\([0-9]*\).*"eval\/accuracy":\([0-9.e-]*\).*/\1 \2/p' \
  "$RUN_DIR/rl/metrics.jsonl" | awk '{printf "%4d  %.3f\n", $1, $2}' | tee "$RUN_DIR/curve.tsv"
echo "gpu_run: done in $(( $(date +%s) - t0 )) s this invocation; curve in $RUN_DIR/curve.tsv"
