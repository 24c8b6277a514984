#!/usr/bin/env bash
# tools/gpu_ablation.sh --report over hand-written metrics (no runs): the table's numbers are computed here by hand.
#   cispo seed 1: eval 0.5 / 0.7 / 0.9 at steps 0 / 4 / 8, step times 10, 12 s; seed 2: 0.5 / 0.6 / 0.8, 14, 16 s
#   grpo  seed 1: 0.5 / 0.8 / 0.6, 20 s;             seed 2: 0.5 / 0.5 / 0.5, 20 s
# With THRESHOLD 0.75: cispo first 0.500, final mean (0.9 + 0.8) / 2 = 0.850, 0.800..0.900, both seeds cross at
# step 8 -> "8.0 (2/2 seeds)", s/step (10 + 12 + 14 + 16) / 4 = 13.0; grpo final 0.550, 0.500..0.600, only seed 1
# crosses (step 4) -> "4.0 (1/2 seeds)", 20.0. A run without eval rows is an error naming its file.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
write() {  # write ARM SEED "STEP:ACC ..." "STEP_S ..."
  local d=$work/abl/$1/seed$2 e t step=1
  mkdir -p "$d"
  : >"$d/metrics.jsonl"
  for e in $3; do echo "{\"step\":${e%%:*},\"eval/accuracy\":${e#*:}}" >>"$d/metrics.jsonl"; done
  for t in $4; do echo "{\"step\":$step,\"time/step_s\":$t,\"rollout/accuracy\":0.1}" >>"$d/metrics.jsonl"; step=$((step + 1)); done
}
write cispo 1 "0:0.5 4:0.7 8:0.9" "10 12"
write cispo 2 "0:0.5 4:0.6 8:0.8" "14 16"
write grpo 1 "0:0.5 4:0.8 8:0.6" "20"
write grpo 2 "8:0.5 0:0.5 4:0.5" "20"
out=$(ABL_DIR=$work/abl ARMS="cispo grpo" SEEDS="1 2" THRESHOLD=0.75 PARALLEL=1 \
  "$ROOT/tools/gpu_ablation.sh" --report)
echo "$out"
expect() { grep -qxF -- "$1" "$work/abl/table.md" || { echo "FAIL: table.md lacks: $1" >&2; exit 1; }; }
expect "| cispo | 2 | 0.500 | 0.850 | 0.800..0.900 | 8.0 (2/2 seeds) | 13.0 |"
expect "| grpo | 2 | 0.500 | 0.550 | 0.500..0.600 | 4.0 (1/2 seeds) | 20.0 |"
# The curve of a run is sorted by step.
[ "$(cat "$work/abl/grpo/seed2/curve.tsv")" = "$(printf '0\t0.5\n4\t0.5\n8\t0.5')" ] || { echo "FAIL: curve order" >&2; exit 1; }
# A run with no eval rows fails with its file named, and no table is written over the old one.
echo '{"step":1,"time/step_s":3}' >"$work/abl/grpo/seed2/metrics.jsonl"
if err=$(ABL_DIR=$work/abl ARMS="cispo grpo" SEEDS="1 2" "$ROOT/tools/gpu_ablation.sh" --report 2>&1); then
  echo "FAIL: a run without eval rows was accepted" >&2; exit 1
fi
grep -q "grpo/seed2/metrics.jsonl has no eval/accuracy row" <<<"$err" || { echo "FAIL: error was: $err" >&2; exit 1; }
expect "| grpo | 2 | 0.500 | 0.550 | 0.500..0.600 | 4.0 (1/2 seeds) | 20.0 |"
echo "gpu_ablation_report_test: ok"
