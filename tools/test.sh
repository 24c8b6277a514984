#!/usr/bin/env bash
# The README's test command: installs dependencies (Debian packages), configures, builds, lints
# (tools/lint.sh) and runs the cpu-labelled tests. CI (.ci/run) calls exactly this on a fresh clone.
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
# Lint after the build (clang-tidy reads compile_commands.json and generated headers); its failure fails
# the run, after the tests have run too.
lint_status=0
BUILD_DIR="$BUILD_DIR" JOBS="$JOBS" tools/lint.sh || lint_status=$?
linted=$(date +%s)
(cd "$BUILD_DIR" && ctest -L cpu --output-on-failure -j "$JOBS" "$@")
end=$(date +%s)
echo "tools/test.sh: build $((built - start)) s, lint $((linted - built)) s, tests $((end - linted)) s"
if [ "$lint_status" -ne 0 ]; then
  echo "tools/test.sh: tests passed but tools/lint.sh failed (exit $lint_status); see its output above" >&2
  exit "$lint_status"
fi
