#!/usr/bin/env bash
# Lint (STYLE.md): fails on findings and prints the command that fixes them.
#   1. format: clang-format 14 (.clang-format) --dry-run -Werror over every tracked .cc/.h/.cu/.cuh;
#   2. tidy:   clang-tidy 14 (.clang-tidy) over the .cc files changed since $LINT_BASE (committed or not),
#              using $BUILD_DIR/compile_commands.json, so it runs after a build (generated headers).
#              .cu files are skipped (nvcc flags), as are files the build does not compile.
# clang-tidy findings (diagnostics located in this repository's files) fail the lint: a changed file must be
# clean as a whole, so the tree converges. One torch TU costs ~20-25 s of CPU, so a typical change (a few
# files) stays well under 3 min on 2 cores; LINT_BASE=<older commit> checks more.
#
# Usage: tools/lint.sh        env: BUILD_DIR (build), LINT_BASE (HEAD~1), JOBS (nproc), LINT_SKIP_TIDY (0)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
LINT_BASE=${LINT_BASE:-HEAD~1}
JOBS=${JOBS:-$(nproc)}

pick() {  # the first of the given programs on PATH
  for p in "$@"; do
    if command -v "$p" >/dev/null 2>&1; then
      echo "$p"
      return
    fi
  done
  echo "lint: none of $* found (tools/setup-deps.sh installs clang-format and clang-tidy)" >&2
  exit 2
}
CLANG_FORMAT=$(pick clang-format-14 clang-format)
CLANG_TIDY=$(pick clang-tidy-14 clang-tidy)
if ! "$CLANG_FORMAT" --version | grep -q 'version 14\.'; then
  echo "lint: $CLANG_FORMAT is not clang-format 14 ($("$CLANG_FORMAT" --version)); formatting differs by version" >&2
  exit 2
fi

status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# 1. Format.
mapfile -t sources < <(git ls-files -- '*.cc' '*.h' '*.cu' '*.cuh')
if ! "$CLANG_FORMAT" --dry-run -Werror "${sources[@]}" >"$log" 2>&1; then
  mapfile -t bad < <(sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error:.*/\1/p' "$log" | sort -u)
  head -n 40 "$log"
  echo "lint: ${#bad[@]} file(s) are not clang-formatted. Fix with:"
  echo "  $CLANG_FORMAT -i ${bad[*]}"
  status=1
else
  echo "lint: format ok (${#sources[@]} files)"
fi

# 2. clang-tidy on the changed .cc files.
if [ "${LINT_SKIP_TIDY:-0}" = 1 ]; then
  echo "lint: clang-tidy skipped (LINT_SKIP_TIDY=1)"
  exit $status
fi
if ! git rev-parse --verify --quiet "$LINT_BASE^{commit}" >/dev/null; then
  echo "lint: LINT_BASE=$LINT_BASE is not a commit here (shallow clone?); clang-tidy skipped"
  exit $status
fi
db="$BUILD_DIR/compile_commands.json"
if [ ! -f "$db" ]; then
  echo "lint: $db missing: configure and build first (cmake -S . -B $BUILD_DIR -G Ninja)" >&2
  exit 2
fi
tidy_files=()
while IFS= read -r f; do
  [ -f "$f" ] || continue
  if grep -qF "\"file\": \"$PWD/$f\"" "$db"; then tidy_files+=("$f"); fi
done < <(git diff --name-only --diff-filter=ACMR "$LINT_BASE" -- '*.cc')
if [ ${#tidy_files[@]} -eq 0 ]; then
  echo "lint: clang-tidy: no changed .cc files since $LINT_BASE"
  exit $status
fi
echo "lint: clang-tidy on ${#tidy_files[@]} file(s) changed since $LINT_BASE: ${tidy_files[*]}"
start=$(date +%s)
# A finding is a diagnostic located in this repository's files. clang 14 cannot parse some LibTorch 1.13
# headers with libstdc++ 12 (errors inside /usr/include); those are reported, not counted: that file's
# findings may then be incomplete.
printf '%s\0' "${tidy_files[@]}" |
  xargs -0 -n 1 -P "$JOBS" "$CLANG_TIDY" -p "$BUILD_DIR" --quiet --extra-arg=-Wno-unknown-warning-option \
    >"$log" 2>&1 || true
findings=$( (grep -E "^$PWD/[^:]+:[0-9]+:[0-9]+: (warning|error):" "$log" || true) | sort -u)
outside=$( (grep -E '^/[^:]+:[0-9]+:[0-9]+: error:' "$log" || true) | (grep -vc "^$PWD/" || true))
if [ "$outside" -gt 0 ]; then
  echo "lint: note: clang-tidy hit $outside error(s) in system headers (clang cannot parse some LibTorch headers);"
  echo "      findings in the affected files may be incomplete"
fi
if [ -n "$findings" ]; then
  echo "$findings"
  mapfile -t bad < <(echo "$findings" | sed -n 's/^\([^:]*\):.*/\1/p' | sort -u)
  echo "lint: $(echo "$findings" | wc -l) clang-tidy finding(s) in ${#bad[@]} file(s) (context: rerun $CLANG_TIDY -p $BUILD_DIR FILE)."
  echo "Fix them by hand, or apply the suggested fixes with:"
  echo "  $CLANG_TIDY -p $BUILD_DIR --fix --extra-arg=-Wno-unknown-warning-option ${bad[*]}"
  status=1
else
  echo "lint: clang-tidy ok ($(($(date +%s) - start)) s)"
fi
exit $status
