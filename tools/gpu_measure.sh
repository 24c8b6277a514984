#!/usr/bin/env bash
# The GPU measurements of docs/benchmarks.md ("Training on the GPU"), in phases so that one device call
# can do several and a later call on the same (warm) machine can continue:
#   build      configure and build the CUDA tree's targets below (shared/device/README.md recipe)
#   tests      the cuda-label tests of trainer/ and algorithms/ (model/ has no cuda-label test)
#   mfu        bench_mfu on configs/gpu_small.yaml at 4096 tokens per sequence, and at the run's 1400
#   agreement  bench_agreement on gpu_small (RUN_DIR/sft_model when exported, else the random init)
#   run        tools/gpu_run.sh until RUN_END (epoch seconds, default DEADLINE), resumable
# Logs go to OUT_DIR/<phase>.log; nvidia-smi samples memory once a second to OUT_DIR/smi.csv.
#
# Usage: tools/gpu_measure.sh PHASE...
#   env: BUILD_DIR (build-cuda), RUN_DIR (runs/gpu_small), OUT_DIR (.), DEADLINE (now + 540), plus
#        tools/gpu_run.sh's (SFT_STEPS, SFT_CKPT_EVERY, EXTRA_SET) and AGREE_PROMPTS (32), AGREE_TOKENS (384)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-cuda}
RUN_DIR=${RUN_DIR:-runs/gpu_small}
OUT_DIR=${OUT_DIR:-.}
DEADLINE=${DEADLINE:-$(($(date +%s) + 540))}
mkdir -p "$OUT_DIR"
nvidia-smi --query-gpu=timestamp,name,memory.used,utilization.gpu --format=csv,noheader -l 1 \
  >>"$OUT_DIR/smi.csv" 2>/dev/null &
smi_pid=$!
trap 'kill "$smi_pid" 2>/dev/null' EXIT
status=0
phase() { echo "== $1 ($(( DEADLINE - $(date +%s) )) s to the deadline)"; }
for p in "$@"; do
  phase "$p"
  case "$p" in
    build)
      cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
        >"$OUT_DIR/build.log" 2>&1 &&
        cmake --build "$BUILD_DIR" -j 16 --target m1rl bench_agreement bench_mfu trainer_cuda_test \
          algorithms_cuda_test >>"$OUT_DIR/build.log" 2>&1 || { tail -40 "$OUT_DIR/build.log"; exit 1; } ;;
    tests)
      (cd "$BUILD_DIR" && ctest -L cuda -R 'TrainerCudaTest|PolicyLossCudaTest' --output-on-failure) \
        2>&1 | tee "$OUT_DIR/tests.log" | grep -E 'Test +#|tests passed|FAILED|Failure|Expected|Which is' ||
        status=1 ;;
    mfu)
      "$BUILD_DIR/tools/bench_mfu" --config configs/gpu_small.yaml --seq_lens 4096,1400 --seqs 2 --iters 3 \
        2>&1 | tee "$OUT_DIR/mfu.log" ;;
    agreement)
      SKIP_BUILD=1 BUILD_DIR="$BUILD_DIR" RUN_DIR="$RUN_DIR" tools/gpu_run.sh --data-only >/dev/null || exit 1
      init=()
      [[ -f "$RUN_DIR/sft_model/config.json" ]] && init=(--set "model.init_from=$RUN_DIR/sft_model")
      "$BUILD_DIR/tools/bench_agreement" --config configs/gpu_small.yaml "${init[@]}" \
        --set "data.eval_path=$RUN_DIR/data/eval.jsonl" --set "data.train_path=$RUN_DIR/data/train.jsonl" \
        --prompts "${AGREE_PROMPTS:-32}" --max_new "${AGREE_TOKENS:-384}" 2>&1 | tee -a "$OUT_DIR/agreement.log" ;;
    run)
      BUDGET_S=$(( ${RUN_END:-$DEADLINE} - $(date +%s) )) SKIP_BUILD=1 BUILD_DIR="$BUILD_DIR" RUN_DIR="$RUN_DIR" \
        tools/gpu_run.sh 2>&1 | tee -a "$OUT_DIR/run.log" | grep -v '^rl train\|^sft train' ;
      cp "$RUN_DIR"/sft/metrics.jsonl "$OUT_DIR/sft_metrics.jsonl" 2>/dev/null
      cp "$RUN_DIR"/rl/metrics.jsonl "$OUT_DIR/rl_metrics.jsonl" 2>/dev/null ;;
    *) echo "gpu_measure: unknown phase '$p'" >&2; exit 2 ;;
  esac
done
echo "peak GPU memory (MiB, nvidia-smi): $(awk -F', ' '{gsub(/ MiB/,"",$3); if ($3>m) m=$3} END {print m}' \
  "$OUT_DIR/smi.csv")"
exit $status
