#!/usr/bin/env bash
# m1rl rollout vs transformers generate() on the issue-13 MiniMax checkpoint, then the larger configuration's
# HBM roofline at batch 256, the 64K-token batch-8 hybrid vs softmax-only run and a decode-step profile.
# GPU host, from the project root with .deps carried; builds only bench_decode. Logs under $WORK (default
# /tmp/bvt). Usage: tools/bench_vs_transformers.sh [--quick]  (quick: skip the 64K runs)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/bvt}
BUILD_DIR=${BUILD_DIR:-build-cuda}
HF_NEW_TOKENS=${HF_NEW_TOKENS:-512,2048}
mkdir -p "$WORK"
if [ ! -x "$BUILD_DIR/tools/bench_decode" ]; then
  # shellcheck source=tools/lib/gpu_configure.sh
  source tools/lib/gpu_configure.sh
  m1rl_gpu_configure "$BUILD_DIR" >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target bench_decode
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
echo "== 143M: m1rl vs transformers"
python3 tools/bench_vs_transformers.py --bench "$BUILD_DIR/tools/bench_decode" --work "$WORK" --hf-new-tokens "$HF_NEW_TOKENS"
echo "== 143M: decode-step profile (batch 64, context 512)"
"$BUILD_DIR/tools/bench_decode" --model "$WORK/minimax_143m" --batch-sizes "" --new-tokens "" --profile-steps 50 \
  --profile-batch 64 --profile-context 512
echo "== ~1.7B (hidden 1024, 16 layers / 2 softmax, 16 experts): batch 256, 2048 new tokens, HBM roofline"
"$BUILD_DIR/tools/bench_decode" --config "$WORK/large_1p7b.json" --batch-sizes 256 --new-tokens 2048 \
  --profile-steps 20 --profile-batch 256 --profile-context 1024
if [ "${1:-}" != "--quick" ]; then
  echo "== 64K-token traces, batch 8: hybrid (7 lightning + 1 softmax) vs softmax-only (8 softmax), 143M shape"
  "$BUILD_DIR/tools/bench_decode" --config "$WORK/hybrid_143m.json" --batch-sizes 8 --new-tokens 65472 --profile-steps 0
  "$BUILD_DIR/tools/bench_decode" --config "$WORK/softmax_143m.json" --batch-sizes 8 --new-tokens 65472 --profile-steps 0
fi
