#!/usr/bin/env bash
# The GPU ablation of gpu_small (configs/gpu_small.yaml): CISPO, GRPO and DAPO RL from the same SFT policy
# (tools/gpu_run.sh's RUN_DIR/sft_model), on the same data (RUN_DIR/data) with the same RL steps, and the
# same seeds per arm (trainer.seed = data.seed = s for s in SEEDS). The arms differ only in
# algorithm.preset (DAPO also refills zero-variance groups: max_gen_rounds 3, as configs/ablation/dapo.yaml).
# Then a table per arm: mean and spread (min..max) of the final held-out accuracy over the seeds, the mean
# first step reaching THRESHOLD, mean wall seconds per RL step; and a PNG of every curve (gnuplot).
#
# Resumable like tools/gpu_run.sh: each invocation stops after BUDGET_S seconds (exit 0, "run again");
# finished (arm, seed) runs are skipped, an interrupted one resumes from its newest checkpoint.
#
# Usage: tools/gpu_ablation.sh [--smoke | --small | --report]
#   --smoke   the tiny CPU model of tools/gpu_run.sh --smoke (run that first with the same RUN_DIR)
#   --small   the ablation size of tools/gpu_run.sh --small (run `tools/gpu_run.sh --small --sft-only` first)
#   --report  no runs: the table and PNG from the metrics already in ABL_DIR (every ARMS x SEEDS run finished),
#             e.g. on a machine with gnuplot after the metrics came back from a GPU host that has none
#   env: BUILD_DIR (build), RUN_DIR (runs/gpu_small), ABL_DIR (RUN_DIR/ablation), BUDGET_S (540),
#        ARMS ("cispo grpo dapo"), SEEDS ("1 2"), STEPS (20), THRESHOLD (0.5), EXTRA_SET (more overrides),
#        PARALLEL (1: runs one after another; N > 1: up to N runs at once on the one GPU, each with nproc/N
#        OpenMP threads and its output in ABL_DIR/ARM/seedS/run.log: the whole ablation in one device call,
#        but the runs share the GPU, so the table's seconds per RL step are not those of a run alone)
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
BUILD_DIR=${BUILD_DIR:-build}
RUN_DIR=${RUN_DIR:-runs/gpu_small}
ABL_DIR=${ABL_DIR:-$RUN_DIR/ablation}
BUDGET_S=${BUDGET_S:-540}
ARMS=${ARMS:-cispo grpo dapo}
SEEDS=${SEEDS:-1 2}
STEPS=${STEPS:-20}
THRESHOLD=${THRESHOLD:-0.5}
PARALLEL=${PARALLEL:-1}
M1RL=$BUILD_DIR/m1rl
sets=()
report_only=0
for arg in "$@"; do
  case "$arg" in
    --smoke)
      # shellcheck source=tools/lib/gpu_small_smoke.sh
      source tools/lib/gpu_small_smoke.sh
      sets=("${GPU_SMALL_SMOKE_SETS[@]}") ;;
    --small)
      # shellcheck source=tools/lib/gpu_small_ablation.sh
      source tools/lib/gpu_small_ablation.sh
      sets=("${GPU_SMALL_ABLATION_SETS[@]}") ;;
    --report) report_only=1 ;;
    *) echo "gpu_ablation: unknown argument '$arg' (usage: tools/gpu_ablation.sh [--smoke | --small | --report])" >&2
       exit 2 ;;
  esac
done
# The table (ABL_DIR/table.md, and each run's curve.tsv) and the PNG of the curves (when gnuplot is present).
report() {
  python3 - "$ABL_DIR" "$THRESHOLD" "$ARMS" "$SEEDS" "$PARALLEL" <<'PY'
import json, statistics, sys
abl, thr, arms, seeds = sys.argv[1], float(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
parallel = int(sys.argv[5])
lines = [f"| arm | seeds | first held-out acc.: mean | final: mean | min..max | first step >= {thr} (mean) "
         "| s / RL step |",
         "|---|---|---|---|---|---|---|"]
for arm in arms:
    firsts, finals, hits, step_s = [], [], [], []
    for seed in seeds:
        ev = []
        for line in open(f"{abl}/{arm}/seed{seed}/metrics.jsonl"):
            r = json.loads(line)
            if r.get("eval/accuracy") is not None:
                ev.append((r["step"], r["eval/accuracy"]))
            if r.get("time/step_s") is not None:
                step_s.append(r["time/step_s"])
        ev.sort()
        with open(f"{abl}/{arm}/seed{seed}/curve.tsv", "w") as f:
            f.writelines(f"{s}\t{a}\n" for s, a in ev)
        if not ev:
            sys.exit(f"gpu_ablation: {abl}/{arm}/seed{seed}/metrics.jsonl has no eval/accuracy row")
        firsts.append(ev[0][1])
        finals.append(ev[-1][1])
        hit = next((s for s, a in ev if a >= thr), None)
        if hit is not None:
            hits.append(hit)
    hit_txt = f"{statistics.mean(hits):.1f} ({len(hits)}/{len(seeds)} seeds)" if hits else "not reached"
    step_txt = f"{statistics.mean(step_s):.1f}" if step_s else "-"
    lines.append(f"| {arm} | {len(seeds)} | {statistics.mean(firsts):.3f} | {statistics.mean(finals):.3f} "
                 f"| {min(finals):.3f}..{max(finals):.3f} | {hit_txt} | {step_txt} |")
if parallel > 1:
    lines.append(f"\nUp to {parallel} runs shared the GPU at once: s / RL step is not a run's time alone.")
open(f"{abl}/table.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
  if command -v gnuplot >/dev/null; then
    local plot="" color=0 arm seed
    for arm in $ARMS; do
      color=$((color + 1))  # one colour per arm, one point type per seed
      for seed in $SEEDS; do
        plot+="\"$ABL_DIR/$arm/seed$seed/curve.tsv\" using 1:2 with linespoints lc $color title \"$arm seed $seed\", "
      done
    done
    gnuplot <<GP
set terminal png size 900,540 noenhanced
set output "$ABL_DIR/ablation.png"
set title "gpu_small ablation: held-out accuracy per RL step"
set xlabel "RL step"
set ylabel "held-out accuracy"
set yrange [*:1]
set grid
set key outside right
plot ${plot%, }
GP
    echo "gpu_ablation: wrote $ABL_DIR/ablation.png"
  fi
}

if (( report_only == 1 )); then
  report
  exit 0
fi
[[ -x "$M1RL" ]] || { echo "gpu_ablation: $M1RL not found (build the m1rl target)" >&2; exit 1; }
for f in "$RUN_DIR/data/DONE" "$RUN_DIR/sft/DONE" "$RUN_DIR/sft_model/config.json"; do
  [[ -f "$f" ]] || { echo "gpu_ablation: $f missing: run tools/gpu_run.sh (same RUN_DIR) first" >&2; exit 1; }
done
# shellcheck disable=SC2206
[[ -n "${EXTRA_SET:-}" ]] && sets+=(${EXTRA_SET})
common=(--set "data.train_path=$RUN_DIR/data/train.jsonl" --set "data.eval_path=$RUN_DIR/data/eval.jsonl"
        --set "model.init_from=$RUN_DIR/sft_model" --set "trainer.steps=$STEPS" --set trainer.eval_at_start=true)
for s in "${sets[@]}"; do common+=(--set "$s"); done

# Waits for one background run of the parallel mode; keeps the worst status (failure over budget over done).
wait_one() {
  local pid rc=0
  wait -n -p pid "${!pids[@]}" || rc=$?
  local log=$ABL_DIR/${pids[$pid]% *}/seed${pids[$pid]#* }/run.log
  echo "gpu_ablation: ${pids[$pid]}: $(tail -1 "$log")"
  (( rc == 1 )) && echo "gpu_ablation: the run's output is in $log" >&2
  unset "pids[$pid]"
  if (( rc == 1 || (rc == 3 && status == 0) )); then status=$rc; fi
}

# One (arm, seed) run, resumed from its newest checkpoint; exit 0 done, 3 budget used, else failed.
run_one() {
  local arm=$1 seed=$2 out=$ABL_DIR/$1/seed$2 left rc
  left=$((BUDGET_S - ($(date +%s) - t0)))
  if (( left < 20 )); then echo "gpu_ablation: budget used before $arm seed $seed; run again"; return 3; fi
  echo "gpu_ablation: $arm seed $seed ($left s left)"
  local arm_sets=(--set "algorithm.preset=$arm")
  [[ $arm == dapo ]] && arm_sets+=(--set algorithm.dynamic_sampling.max_gen_rounds=3)
  mkdir -p "$out"
  set +e
  timeout --signal=TERM --kill-after=15 "$left" "$M1RL" train --config configs/gpu_small.yaml "${common[@]}" \
    "${arm_sets[@]}" --set "trainer.seed=$seed" --set "data.seed=$seed" --set "trainer.metrics_dir=$out" \
    --set "trainer.checkpoint.dir=$out/checkpoints" --resume auto --log-level warning
  rc=$?
  set -e
  if (( rc == 124 || rc == 137 )); then echo "gpu_ablation: budget used during $arm seed $seed; run again"; return 3; fi
  (( rc == 0 )) || { echo "gpu_ablation: $arm seed $seed failed (exit $rc)" >&2; return 1; }
  touch "$out/DONE"
}

# The pending runs, PARALLEL at a time (each run's output in its directory's run.log when PARALLEL > 1).
pending=()
for arm in $ARMS; do
  for seed in $SEEDS; do
    [[ -f "$ABL_DIR/$arm/seed$seed/DONE" ]] || pending+=("$arm $seed")
  done
done
status=0
if (( PARALLEL <= 1 )); then
  for p in "${pending[@]}"; do
    # shellcheck disable=SC2086
    run_one $p || { status=$?; break; }
  done
else
  declare -A pids=()
  for p in "${pending[@]}"; do
    while (( ${#pids[@]} >= PARALLEL )); do wait_one; done
    read -r arm seed <<<"$p"
    mkdir -p "$ABL_DIR/$arm/seed$seed"
    OMP_NUM_THREADS=$(( $(nproc) / PARALLEL > 0 ? $(nproc) / PARALLEL : 1 )) \
      run_one "$arm" "$seed" >"$ABL_DIR/$arm/seed$seed/run.log" 2>&1 &
    pids[$!]="$p"
  done
  while (( ${#pids[@]} > 0 )); do wait_one; done
fi
(( status == 3 )) && exit 0
(( status == 0 )) || exit "$status"
report
echo "gpu_ablation: done in $(( $(date +%s) - t0 )) s this invocation; table in $ABL_DIR/table.md"
