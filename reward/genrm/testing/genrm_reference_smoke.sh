#!/usr/bin/env bash
# `m1rl genrm-reference` end to end against a scripted OpenAI-compatible server (fake_openai.py):
# the Swiss round must pick the candidate with the most '*' for each prompt and write the judge version.
# Usage: genrm_reference_smoke.sh path/to/m1rl
set -euo pipefail
m1rl=$1
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
python3 "$here/fake_openai.py" >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
  grep -q "^port [0-9]*$" "$dir/server.log" && break
  sleep 0.05
done
port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$dir/server.log")
[ -n "$port" ] || { cat "$dir/server.log"; echo "fake server did not start"; exit 1; }
cat >"$dir/run.yaml" <<YAML
reward:
  genrm:
    enabled: true
    backend: openai
    openai: {urls: ["http://127.0.0.1:$port/v1/chat/completions"], model: fake-judge, max_in_flight: 8}
    swiss: {extra_rounds: 2, parallel_matches: 4}
YAML
printf '%s\n' '{"id": "a", "prompt": "q1", "candidates": ["x*", "y***", "z", "w**"]}' \
  '{"id": "b", "prompt": "q2", "candidates": ["one", "two**", "three*"]}' >"$dir/in.jsonl"
"$m1rl" genrm-reference --config "$dir/run.yaml" --in "$dir/in.jsonl" --out "$dir/out.jsonl"
cat "$dir/out.jsonl"
grep -q '"id":"a".*"reference":"y\*\*\*"' "$dir/out.jsonl"
grep -q '"id":"b".*"reference":"two\*\*"' "$dir/out.jsonl"
grep -q '"judge_version":"genrm-1/fake-judge/tpl-' "$dir/out.jsonl"
# Exit 1 when a line cannot get a reference.
printf '%s\n' '{"prompt": "q3", "candidates": []}' >"$dir/bad.jsonl"
status=0
"$m1rl" genrm-reference --config "$dir/run.yaml" --in "$dir/bad.jsonl" --out "$dir/bad_out.jsonl" || status=$?
[ "$status" -eq 1 ] || { echo "expected exit 1, got $status"; exit 1; }
echo "smoke: ok"
