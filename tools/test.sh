#!/usr/bin/env bash
# The README's test command: installs dependencies (Debian packages), configures, builds, lints
# (tools/lint.sh), runs the cpu-labelled tests, then a short fuzzing run (tools/fuzz.sh: each libFuzzer
# target for FUZZ_SECONDS, built with clang in BUILD_DIR-fuzz; any finding fails the run). CI (.ci/run)
# calls exactly this on a fresh clone.
# Usage: tools/test.sh [extra ctest args...]
# env: BUILD_DIR (default build), JOBS (default nproc), FUZZ_SECONDS (default 60), M1RL_SKIP_FUZZ=1 skips
# the fuzzing run (a cold clang build of the fuzzers is ~150 s on 2 cores).
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
tested=$(date +%s)
fuzz_status=0
if [ "${M1RL_SKIP_FUZZ:-0}" = 1 ]; then
  echo "tools/test.sh: fuzzing skipped (M1RL_SKIP_FUZZ=1)"
else
  JOBS="$JOBS" tools/fuzz.sh "${FUZZ_SECONDS:-60}" "$BUILD_DIR-fuzz" || fuzz_status=$?
fi
end=$(date +%s)
echo "tools/test.sh: build $((built - start)) s, lint $((linted - built)) s, tests $((tested - linted)) s," \
  "fuzz $((end - tested)) s"
if [ "$lint_status" -ne 0 ]; then
  echo "tools/test.sh: tests passed but tools/lint.sh failed (exit $lint_status); see its output above" >&2
  exit "$lint_status"
fi
if [ "$fuzz_status" -ne 0 ]; then
  echo "tools/test.sh: tests passed but tools/fuzz.sh failed (exit $fuzz_status); see its output above" >&2
  exit "$fuzz_status"
fi
