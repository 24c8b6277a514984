#!/usr/bin/env bash
# A/B of a kernels/ or model/ change on one GPU host, in one device call (same host, same run: the two MFU figures
# compare). Two steps:
#   tools/gpu_ab_mfu.sh prep BASE_REV [PATH...]   (build machine, needs git) snapshots BASE_REV's version of every
#                                       file under PATH... (default: kernels model) that the working tree changes
#                                       into .ab-base/ (carry it with .deps); name tools/bench_mfu.cc too when the
#                                       change reaches the bench's own flags
#   tools/gpu_ab_mfu.sh run             (GPU host) B = this tree: full CUDA build, then `ctest -L cuda` while
#                                       A (a copy of the tree with the snapshot's files) builds bench_mfu beside it;
#                                       then the benches, A and B alternating, one process each (same host, same
#                                       run: the figures compare), B's build left in build-cuda for later calls;
#                                       an ncu kernel profile of B last (PROFILE=0 skips it).
# Benches: each line of BENCHES is "NAME|EXTRA FLAGS" run as bench_mfu --config configs/gpu_small.yaml
# --set model.recompute_layers=false --set model.lm_head_precision=bf16_fp32_out --iters 3 --gemm 8192 EXTRA for
# A then B (a NAME starting with "B:" runs on B only, e.g. for flags A's bench lacks). Default: the 8-layer model at
# 2 x 4,096 tokens and gpu_small (16 layers) at 4 x 4,096 (its trainer's 16,384-token micro-batch). Env: GEMM
# (8192: the size of the peak-measuring GEMM), A_TREE (/tmp/gpu_ab_mfu_A: where A is built).
# Logs go to $OUT (at most 8 files come back from a device call): summary.log, build.log, buildA.log,
# build_errors.log, ctest.log, prof.log, kern.txt.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
snap=.ab-base

prep() {
  local base=$1
  shift
  local paths=("$@")
  [ ${#paths[@]} -gt 0 ] || paths=(kernels model)
  rm -rf "$snap"
  mkdir -p "$snap"
  : >"$snap/files"
  local f
  for f in $(git diff --name-only "$base" -- "${paths[@]}"); do
    git cat-file -e "$base:$f" 2>/dev/null || continue
    mkdir -p "$snap/$(dirname "$f")"
    git show "$base:$f" >"$snap/$f"
    echo "$f" >>"$snap/files"
  done
  echo "gpu_ab_mfu: $(wc -l <"$snap/files") file(s) of $base in $snap/ (carry it: [\".deps\", \"$snap\"])"
}

default_benches='8 layers, 2 x 4096|--set model.num_hidden_layers=8 --seq_lens 4096 --seqs 2
gpu_small, 4 x 4096|--seq_lens 4096 --seqs 4'

run() {
  : "${OUT:?run on the GPU host with OUT set}"
  [ -f "$snap/files" ] || { echo "gpu_ab_mfu: $snap/files missing: run 'prep BASE_REV' first and carry $snap" >&2; exit 2; }
  local t0 s=$OUT/summary.log a_tree=${A_TREE:-/tmp/gpu_ab_mfu_A}
  t0=$(date +%s)
  say() { echo "[$(($(date +%s) - t0)) s] $*" | tee -a "$s"; }
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee -a "$s"
  # shellcheck source=tools/lib/gpu_configure.sh disable=SC1091
  source tools/lib/gpu_configure.sh
  m1rl_gpu_configure build-cuda >"$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log" >>"$s"; exit 1; }
  cmake --build build-cuda -j "$(nproc)" -- -k 0 >>"$OUT/build.log" 2>&1
  say "build B rc=$?"
  grep "^FAILED:" "$OUT/build.log" | cut -c1-200 | head -10 | tee -a "$s"
  grep -B1 -A8 " error" "$OUT/build.log" | head -60 >"$OUT/build_errors.log"
  build_a "$a_tree" &
  local a_pid=$!
  (cd build-cuda && OMP_NUM_THREADS=2 timeout 200 ctest -L cuda --timeout 120 -j 4 --output-on-failure >"$OUT/ctest.log" 2>&1
    echo "rc=$?" >>"$OUT/ctest.log")
  grep -E "tests passed|\*\*\*|Failed|rc=" "$OUT/ctest.log" | tail -15 | tee -a "$s"
  say "ctest done"
  wait "$a_pid"
  say "A built: $(tail -1 "$OUT/buildA.log")"
  local base=(--config configs/gpu_small.yaml --set model.recompute_layers=false
    --set model.lm_head_precision=bf16_fp32_out --iters 3 --gemm "${GEMM:-8192}")
  local name flags side
  while IFS='|' read -r name flags; do
    [ -n "$name" ] || continue
    for side in A B; do
      [ "$side" = A ] && [ "${name#B:}" != "$name" ] && continue
      local bin=build-cuda/tools/bench_mfu
      [ "$side" = A ] && bin=$a_tree/build-cuda/tools/bench_mfu
      echo "== $side: ${name#B:}" | tee -a "$s"
      # shellcheck disable=SC2086
      timeout 120 "$bin" "${base[@]}" $flags </dev/null 2>&1 | tail -1 | tee -a "$s"
    done
  done <<<"${BENCHES:-$default_benches}"
  say "benches done"
  if [ "${PROFILE:-1}" = 1 ]; then
    timeout 100 /usr/local/cuda/bin/ncu -c 1700 --csv --metrics gpu__time_duration.sum build-cuda/tools/bench_mfu \
      "${base[@]}" --set model.num_hidden_layers=8 --seq_lens 4096 --seqs 2 --iters 1 --gemm 1024 \
      >/tmp/ncu.csv 2>"$OUT/prof.log"
    python3 tools/ncu_kernel_summary.py /tmp/ncu.csv >"$OUT/kern.txt" 2>&1
    head -25 "$OUT/kern.txt" | cut -c1-170 | tee -a "$s"
    say "profile done"
  fi
}

# A: a copy of the tree (without build-cuda and .git) with the snapshot's files, bench_mfu built in it.
build_a() {
  local dir=$1 f
  rm -rf "$dir" && mkdir -p "$dir"
  tar cf - --exclude=./build-cuda --exclude=./.git . | tar xf - -C "$dir"
  (cd "$dir" || exit 2
    while read -r f; do cp "$snap/$f" "$f"; done <"$snap/files"
    m1rl_gpu_configure build-cuda >"$OUT/buildA.log" 2>&1 &&
      cmake --build build-cuda -j "$(nproc)" --target bench_mfu >>"$OUT/buildA.log" 2>&1
    echo "A rc=$?" >>"$OUT/buildA.log")
}

case "${1:-}" in
  prep) [ $# -ge 2 ] || { echo "usage: tools/gpu_ab_mfu.sh prep BASE_REV [PATH...]" >&2; exit 2; }; shift; prep "$@" ;;
  run) run ;;
  *) echo "usage: tools/gpu_ab_mfu.sh prep BASE_REV [PATH...] | run" >&2; exit 2 ;;
esac
