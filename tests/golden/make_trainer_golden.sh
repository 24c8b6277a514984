#!/usr/bin/env bash
# Regenerates tests/golden/trainer_sft_losses.txt: the reference run of TrainerProcessTest's seeded SFT
# config (6 steps, tiny2, seed 7/11/3), losses printed as "step loss" with round-trip precision.
# Usage: tests/golden/make_trainer_golden.sh [BUILD_DIR]   (default build)
set -euo pipefail
cd "$(dirname "$0")/../.."
M1RL=${1:-build}/m1rl
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" <<'PY'
import sys
d = sys.argv[1]
with open(f"{d}/train.jsonl", "w") as f:
    for i in range(100):
        f.write('{"id":"r%d","prompt":"%d+%d=","answer":"%d","domain":"math"}\n' % (i, i // 10, i % 10, i // 10 + i % 10))
with open(f"{d}/sft.yaml", "w") as f:
    f.write("name: trainer-process-test\n"
            "model: {preset: tiny2, vocab_size: 99, tokenizer: char, seed: 7}\n"
            "trainer:\n  mode: sft\n  steps: 6\n  sft_batch_size: 8\n  prompt_template: raw\n  seed: 11\n"
            "  optim: {lr: 0.003, grad_clip: 1.0, betas: [0.9, 0.95], eps: 1.0e-15}\n  checkpoint: {every_steps: 1, keep_last: 10}\n"
            f"data: {{shuffle: true, seed: 3, train_path: {d}/train.jsonl}}\n")
PY
"$M1RL" train --config "$dir/sft.yaml" --set "trainer.checkpoint.dir=$dir/golden/ckpt" \
  --set "trainer.metrics_dir=$dir/golden/metrics" --log-level warning
python3 - "$dir/golden/metrics/metrics.jsonl" > tests/golden/trainer_sft_losses.txt <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "train/loss" in r:
        print(r["step"], repr(r["train/loss"]))
PY
cat tests/golden/trainer_sft_losses.txt
