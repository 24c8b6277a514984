#!/usr/bin/env bash
# The README's main command: on a fresh Debian 12 machine, installs the dependencies, builds m1rl,
# starts a reward server on loopback, writes a synthetic addition dataset (two-digit sums "47+85=" from
# arith_add) and a held-out set of problems that never occur in training (arith_add_heldout: disjoint by
# construction, and checked below), trains a tiny hybrid policy (lightning + softmax layers, MoE) from a
# random init with SFT, then with CISPO RL against the reward server, prints a table and writes a PNG of
# held-out accuracy per step.
#
# Usage: tools/quickstart.sh            env: BUILD_DIR (default build), RUN_DIR (default runs/quickstart),
#                                            JOBS (default nproc), SKIP_DEPS=1 (skip tools/setup-deps.sh)
# Stages and their knobs live in configs/quickstart.yaml; the SFT stage reuses it with overrides below.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
BUILD_DIR=${BUILD_DIR:-build}
RUN_DIR=${RUN_DIR:-runs/quickstart}
JOBS=${JOBS:-$(nproc)}
CONFIG=configs/quickstart.yaml

if [[ "${SKIP_DEPS:-0}" != 1 ]]; then tools/setup-deps.sh; fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" --target m1rl -j "$JOBS"
M1RL=$BUILD_DIR/m1rl
t_built=$(date +%s)

rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR/data"

# --- reward server on loopback, stopped on exit ---
# shellcheck source=tools/lib/reward_server.sh
source tools/lib/reward_server.sh
start_reward_server "$M1RL" "$RUN_DIR/reward_server.log" quickstart
addr=$REWARD_ADDR
server_pid=$REWARD_PID
echo "quickstart: reward server at $addr (pid $server_pid)"

# --- synthetic addition data (the logic module's "arith_add" families, math domain) ---
DIFFICULTY=${DIFFICULTY:-2}
"$M1RL" make-data --task arith_add --difficulty "$DIFFICULTY" --n 20000 --seed 1 --out "$RUN_DIR/data/train.jsonl"
"$M1RL" make-data --task arith_add_heldout --difficulty "$DIFFICULTY" --n 200 --seed 2 \
  --out "$RUN_DIR/data/eval.jsonl"
# Held-out means unseen: no evaluation problem (either operand order) occurs among the training prompts.
overlap=$(sed -n 's/.*"prompt":"\([0-9]*\)+\([0-9]*\)=".*/\1+\2=\n\2+\1=/p' "$RUN_DIR/data/eval.jsonl" | sort -u |
  comm -12 - <(sed -n 's/.*"prompt":"\([^"]*\)".*/\1/p' "$RUN_DIR/data/train.jsonl" | sort -u) | wc -l)
if (( overlap != 0 )); then
  echo "quickstart: $overlap evaluation problems occur in the training data" >&2
  exit 1
fi
echo "quickstart: $(wc -l <"$RUN_DIR/data/eval.jsonl") held-out problems, none of them in the training data"

common=(--set "reward.mode=grpc" --set "reward.address=$addr"
        --set "data.train_path=$RUN_DIR/data/train.jsonl" --set "data.eval_path=$RUN_DIR/data/eval.jsonl")

# --- stage 1: SFT from the random init (held-out accuracy before and after) ---
SFT_STEPS=${SFT_STEPS:-800}
"$M1RL" train --config "$CONFIG" "${common[@]}" \
  --set trainer.mode=sft --set "trainer.steps=$SFT_STEPS" --set trainer.sft_batch_size=64 \
  --set trainer.optim.lr=3e-3 --set "trainer.eval_every=$SFT_STEPS" --set trainer.eval_at_start=true \
  --set "trainer.metrics_dir=$RUN_DIR/sft" --set "trainer.checkpoint.dir=$RUN_DIR/sft/checkpoints" \
  --set trainer.checkpoint.every_steps=0 --set "trainer.export_hf_dir=$RUN_DIR/sft_model" --log-level warning
t_sft=$(date +%s)

# --- stage 2: CISPO RL from the SFT policy ---
"$M1RL" train --config "$CONFIG" "${common[@]}" \
  --set "model.init_from=$RUN_DIR/sft_model" ${RL_STEPS:+--set "trainer.steps=$RL_STEPS"} \
  --set "trainer.metrics_dir=$RUN_DIR/rl" --set "trainer.checkpoint.dir=$RUN_DIR/rl/checkpoints"
t_rl=$(date +%s)

# --- table and curve ---
python3 - "$RUN_DIR/rl/metrics.jsonl" "$RUN_DIR/curve.tsv" <<'PY' || awk_fallback=1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ev = [(r["step"], r["eval/accuracy"]) for r in rows if r.get("eval/accuracy") is not None]
with open(sys.argv[2], "w") as f:
    for s, a in ev:
        f.write(f"{s}\t{a}\n")
print("step  held-out accuracy")
for s, a in ev:
    print(f"{s:4d}  {a:.3f}")
PY
if [[ -n "${awk_fallback:-}" ]]; then
  grep -o '"step":[0-9]*\|"eval/accuracy":[0-9.]*' "$RUN_DIR/rl/metrics.jsonl" | paste - - 2>/dev/null | \
    sed -n 's/"step":\([0-9]*\).*"eval\/accuracy":\([0-9.]*\)/\1\t\2/p' >"$RUN_DIR/curve.tsv"
  cat "$RUN_DIR/curve.tsv"
fi
first=$(head -n 1 "$RUN_DIR/curve.tsv" | cut -f2)
last=$(tail -n 1 "$RUN_DIR/curve.tsv" | cut -f2)
if command -v gnuplot >/dev/null; then
  gnuplot <<GP
set terminal png size 800,500
set output "$RUN_DIR/accuracy.png"
set title "m1rl quickstart: CISPO RL after SFT (unseen two-digit sums, tiny hybrid MoE)"
set xlabel "RL step"
set ylabel "held-out accuracy (greedy)"
set yrange [0:1]
set grid
plot "$RUN_DIR/curve.tsv" using 1:2 with linespoints title "held-out accuracy"
GP
fi
t_end=$(date +%s)
printf '\n%-28s %s\n' "quickstart" "result"
printf '%-28s %s\n' "reward server" "$addr"
init=$(grep -o '"eval/accuracy":[0-9.e-]*' "$RUN_DIR/sft/metrics.jsonl" | head -n 1 | cut -d: -f2)
printf '%-28s %s\n' "held-out accuracy at init" "$init"
printf '%-28s %s\n' "held-out accuracy after SFT" "$first"
printf '%-28s %s\n' "held-out accuracy after RL" "$last"
printf '%-28s %ss\n' "build" "$((t_built - t0))"
printf '%-28s %ss\n' "SFT warm-up" "$((t_sft - t_built))"
printf '%-28s %ss\n' "CISPO RL" "$((t_rl - t_sft))"
printf '%-28s %ss\n' "total" "$((t_end - t0))"
printf '%-28s %s\n' "curve" "$RUN_DIR/accuracy.png"
