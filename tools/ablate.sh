#!/usr/bin/env bash
# CISPO vs GRPO vs DAPO on identical seeds, data, model init and budgets (configs/ablation/*.yaml differ
# only in name, output directories and the algorithm section). Runs the arms sequentially (CPU), then
# writes a comparison table (final accuracy, area under the accuracy curve, first step reaching the
# threshold) and a PNG with the three held-out accuracy curves.
#
# Usage: tools/ablate.sh [extra `m1rl train` args, e.g. --set trainer.steps=40]
# Env: BUILD_DIR (build), RUN_DIR (runs/ablation), THRESHOLD (0.9), INIT_FROM (an HF policy dir to start
#      every arm from; default: run the quickstart's SFT warm-up once and share it), ARMS ("cispo grpo dapo").
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
RUN_DIR=${RUN_DIR:-runs/ablation}
THRESHOLD=${THRESHOLD:-0.9}
ARMS=${ARMS:-cispo grpo dapo}
M1RL=$BUILD_DIR/m1rl
[[ -x "$M1RL" ]] || cmake --build "$BUILD_DIR" --target m1rl
mkdir -p "$RUN_DIR"

# shellcheck source=tools/lib/reward_server.sh
source tools/lib/reward_server.sh
start_reward_server "$M1RL" "$RUN_DIR/reward_server.log" ablate
addr=$REWARD_ADDR

DIFFICULTY=${DIFFICULTY:-1}
"$M1RL" make-data --task arith --difficulty "$DIFFICULTY" --n 20000 --seed 1 --out "$RUN_DIR/train.jsonl"
"$M1RL" make-data --task arith --difficulty "$DIFFICULTY" --n 200 --seed 2 --out "$RUN_DIR/eval.jsonl"
common=(--set "reward.mode=grpc" --set "reward.address=$addr"
        --set "data.train_path=$RUN_DIR/train.jsonl" --set "data.eval_path=$RUN_DIR/eval.jsonl")

init=${INIT_FROM:-}
if [[ -z "$init" ]]; then
  init=$RUN_DIR/sft_model
  "$M1RL" train --config configs/ablation/cispo.yaml "${common[@]}" \
    --set trainer.mode=sft --set "trainer.steps=${SFT_STEPS:-75}" --set trainer.sft_batch_size=32 \
    --set trainer.optim.lr=3e-3 --set trainer.eval_every=0 --set "trainer.metrics_dir=$RUN_DIR/sft" \
    --set "trainer.checkpoint.dir=$RUN_DIR/sft/checkpoints" --set trainer.checkpoint.every_steps=0 \
    --set "trainer.export_hf_dir=$init" --log-level warning
fi

for arm in $ARMS; do
  echo "ablate: arm $arm"
  rm -rf "$RUN_DIR/$arm"
  "$M1RL" train --config "configs/ablation/$arm.yaml" "${common[@]}" --set "model.init_from=$init" \
    --set trainer.eval_at_start=true --set "trainer.metrics_dir=$RUN_DIR/$arm" \
    --set "trainer.checkpoint.dir=$RUN_DIR/$arm/checkpoints" --log-level warning "$@"
done

python3 - "$RUN_DIR" "$THRESHOLD" $ARMS <<'PY'
import json, sys
run, thr, arms = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
rows = []
for arm in arms:
    ev = []
    for line in open(f"{run}/{arm}/metrics.jsonl"):
        r = json.loads(line)
        if r.get("eval/accuracy") is not None:
            ev.append((r["step"], r["eval/accuracy"]))
    ev.sort()
    with open(f"{run}/{arm}/curve.tsv", "w") as f:
        for s, a in ev:
            f.write(f"{s}\t{a}\n")
    # Trapezoid area under accuracy-vs-step, normalised by the step span (1.0 = perfect throughout).
    auc = sum((ev[i + 1][0] - ev[i][0]) * (ev[i][1] + ev[i + 1][1]) / 2 for i in range(len(ev) - 1))
    span = ev[-1][0] - ev[0][0] if len(ev) > 1 else 1
    hit = next((s for s, a in ev if a >= thr), None)
    rows.append((arm, ev[0][1], ev[-1][1], auc / span, hit))
with open(f"{run}/table.md", "w") as f:
    f.write(f"| arm | start acc | final acc | AUC (normalised) | first step >= {thr} |\n|---|---|---|---|---|\n")
    for arm, a0, a1, auc, hit in rows:
        f.write(f"| {arm} | {a0:.3f} | {a1:.3f} | {auc:.3f} | {hit if hit is not None else 'not reached'} |\n")
print(open(f"{run}/table.md").read())
PY
if command -v gnuplot >/dev/null; then
  plot=""
  for arm in $ARMS; do plot+="\"$RUN_DIR/$arm/curve.tsv\" using 1:2 with linespoints title \"$arm\", "; done
  gnuplot <<GP
set terminal png size 900,540
set output "$RUN_DIR/ablation.png"
set title "m1rl ablation: held-out accuracy (greedy) per RL step"
set xlabel "RL step"
set ylabel "held-out accuracy"
set yrange [0:1]
set grid
set key bottom right
plot ${plot%, }
GP
  echo "ablate: wrote $RUN_DIR/ablation.png and $RUN_DIR/table.md"
fi
