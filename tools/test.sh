#!/usr/bin/env bash
# The README's test command: installs dependencies (Debian packages), configures, builds and runs
# the cpu-labelled tests. CI (.ci/run) calls exactly this on a fresh clone.
# Usage: tools/test.sh [extra ctest args...]     env: BUILD_DIR (default build), JOBS (default nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
start=$(date +%s)
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD_DIR" -j "$JOBS"
built=$(date +%s)
(cd "$BUILD_DIR" && ctest -L cpu --output-on-failure -j "$JOBS" "$@")
end=$(date +%s)
echo "tools/test.sh: build $((built - start)) s, tests $((end - built)) s"
