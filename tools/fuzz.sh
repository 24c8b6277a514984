#!/usr/bin/env bash
# tools/fuzz.sh: builds the libFuzzer targets with clang (-DM1RL_BUILD_FUZZERS=ON, in their own build dir)
# and runs each for a given time; exits 1 on any finding (crash, violated invariant, sanitizer report,
# leak, timeout or OOM), leaving the reproducer in BUILD_DIR/fuzz_artifacts/<target>/.
#
#   tools/fuzz.sh [SECONDS_PER_TARGET] [BUILD_DIR]      defaults: 60, build-fuzz
#
# New corpus inputs go to BUILD_DIR/fuzz_corpus/<target>; the checked-in seeds are only read. Replay a
# finding with BUILD_DIR/reward/math_fuzzer <file>, then add it to the target's seeds (and, base64, to
# reward/math/math_fuzz_test.cc's kFindings) once fixed. JOBS sets the build parallelism (default 2).
set -euo pipefail

seconds=${1:-60}
build=${2:-build-fuzz}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "tools/fuzz.sh: SECONDS_PER_TARGET must be a positive integer, got '$seconds'" >&2
  exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
for tool in clang clang++ cmake ninja; do
  command -v "$tool" >/dev/null || { echo "tools/fuzz.sh: $tool not found" >&2; exit 2; }
done

# target:binary (relative to BUILD_DIR):seed directory
targets=("math_fuzzer:reward/math_fuzzer:reward/math/testdata/fuzz_seeds")

if [[ ! -f $build/build.ninja ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DM1RL_BUILD_FUZZERS=ON -DM1RL_ENABLE_CUDA=OFF
fi
names=()
for t in "${targets[@]}"; do names+=("${t%%:*}"); done
start=$(date +%s)
cmake --build "$build" -j"${JOBS:-2}" --target "${names[@]}"
echo "tools/fuzz.sh: build took $(($(date +%s) - start)) s"

failed=()
for t in "${targets[@]}"; do
  IFS=: read -r name binary seeds <<<"$t"
  corpus=$build/fuzz_corpus/$name
  artifacts=$build/fuzz_artifacts/$name/
  mkdir -p "$corpus" "$artifacts"
  echo "tools/fuzz.sh: running $name for $seconds s"
  if ! "$build/$binary" "$corpus" "$seeds" -max_total_time="$seconds" -max_len=2048 -timeout=5 \
    -rss_limit_mb=2048 -artifact_prefix="$artifacts" -print_final_stats=1; then
    failed+=("$name")
  fi
done
if ((${#failed[@]} > 0)); then
  echo "tools/fuzz.sh: FINDINGS in ${failed[*]} (reproducers under $build/fuzz_artifacts/)" >&2
  exit 1
fi
echo "tools/fuzz.sh: all ${#targets[@]} fuzzer(s) clean for $seconds s each"
