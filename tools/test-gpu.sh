#!/usr/bin/env bash
# The GPU-host build (shared/device/README.md recipe): LibTorch 2.11 from the PyTorch wheel, CUDA 13.0,
# gRPC/Protobuf/Abseil/GoogleTest from the carried .debs in .deps/. Runs the cpu and cuda tests.
# Usage (on the GPU host, from the project root, with .deps carried): tools/test-gpu.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .deps/env.sh ]; then
  echo "tools/test-gpu.sh: .deps/env.sh missing; run ../shared/device/fetch-debs.sh on the build machine and carry .deps" >&2
  exit 1
fi
BUILD_DIR=${BUILD_DIR:-build-cuda}
# shellcheck source=tools/lib/gpu_configure.sh
source tools/lib/gpu_configure.sh
m1rl_gpu_configure "$BUILD_DIR"
cmake --build "$BUILD_DIR" -j "$(nproc)"
# Each test process may start many LibTorch/OpenMP threads: cap them so parallel tests do not oversubscribe
# the host's cores (seen: a 1 s test timing out at 8 tests x 16 threads on 16 cores).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
JOBS=${JOBS:-$(( $(nproc) / 2 ))}
(cd "$BUILD_DIR" && ctest -L 'cpu|cuda' --output-on-failure -j "$JOBS" "$@")
