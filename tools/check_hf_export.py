#!/usr/bin/env python3
"""Checks an m1rl Hugging Face export against transformers (GPU host: transformers 5.x with MiniMaxForCausalLM,
or AutoModelForCausalLM for the dense family: model_type llama / qwen2 / qwen3).

  python3 tools/check_hf_export.py --model HF_DIR --m1rl build-cuda/m1rl [--device cuda] [--max-new-tokens 64]

Where m1rl is not built on the transformers host, split the run: `--write-prompts P.jsonl` writes the prompts and
prints the m1rl command that makes their completions; run it where m1rl is built, then pass its output with
`--m1rl-output OUT.jsonl` instead of --m1rl.

1. Loads HF_DIR with MiniMaxForCausalLM.from_pretrained (dense family: AutoModelForCausalLM) in float32 and
   prints the missing, unexpected and mismatched keys transformers reports (an m1rl export should have none: it
   writes the lightning buffers).
2. Compares the loaded lightning buffers (slope_rate, query_decay, key_decay, diagonal_decay) with those of a
   freshly constructed MiniMaxLightningAttention of the same config (what transformers computes itself); dense
   models have none.
3. Runs `m1rl generate --greedy --dtype float32 --head ieee_fp32` on a few prompts (one longer than a lightning
   block), then a transformers float32 forward (TF32 off) over each prompt + completion, and compares
   log-probs of the generated tokens (m1rl records log softmax(logits)[token] at temperature 1) and argmax
   agreement. With tokenizer.json, also compares transformers' tokenizer ids with m1rl's prompt ids.

Exit status 0 when there are no missing/unexpected/mismatched keys, the buffers agree, and
max |delta log-prob| <= --tol (default 1e-3); 1 otherwise. Under rope_convention "m1" with rotary_dim < head_dim
transformers 5.x rotates the whole head and the log-probs are expected to differ (export with
model.rope_convention: hf for transformers).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

try:  # not needed for --write-prompts
    import torch
except ImportError:
    torch = None

BUFFERS = ("slope_rate", "query_decay", "key_decay", "diagonal_decay")


def prompts(n_long):
    base = ["The quick brown fox jumps over the lazy dog. ", "a"]
    base += [f"{(i * 37) % 90 + 10}+{(i * 53) % 90 + 10}=" for i in range(24)]  # the quickstart's task
    # Longer than one lightning block (256 tokens) under any tokenizer of at least one token per 4 chars.
    base.append(" ".join(str(i * 7919 % 1000) for i in range(n_long)))
    return base


def load_hf(model_dir, device, model_type):
    from transformers import AutoModelForCausalLM, MiniMaxForCausalLM

    cls = MiniMaxForCausalLM if model_type.startswith("minimax") else AutoModelForCausalLM
    model, info = cls.from_pretrained(model_dir, dtype=torch.float32, output_loading_info=True)
    model = model.to(device).eval()
    problems = 0
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        items = list(info.get(key, []) or [])
        print(f"{key}: {len(items)}")
        for item in items[:20]:
            print(f"  {item}")
        if len(items) > 20:
            print(f"  ... {len(items) - 20} more")
        problems += len(items)
    return model, problems


def check_buffers(model):
    """Loaded buffers vs a fresh MiniMaxLightningAttention's (float32, CPU), max |diff| per buffer name."""
    from transformers.models.minimax.modeling_minimax import MiniMaxLightningAttention

    cfg = model.config
    worst = {b: 0.0 for b in BUFFERS}
    checked = 0
    for i, layer in enumerate(model.model.layers):
        attn = layer.self_attn
        if not hasattr(attn, "slope_rate"):
            continue
        fresh = MiniMaxLightningAttention(cfg, i)
        for b in BUFFERS:
            got = getattr(attn, b).detach().float().cpu()
            want = getattr(fresh, b).detach().float().cpu()
            if got.shape != want.shape:
                print(f"layer {i} {b}: shape {tuple(got.shape)} != {tuple(want.shape)}")
                worst[b] = float("inf")
                continue
            worst[b] = max(worst[b], (got - want).abs().max().item())
        checked += 1
    print(f"lightning buffers of {checked} layers vs transformers' own: " +
          ", ".join(f"{b} max|diff| {worst[b]:.3g}" for b in BUFFERS))
    # float32 exports should be exact; bf16 exports round to 2^-8 relative (values <= 1).
    return all(v <= 4e-3 for v in worst.values())


def write_prompts(path, texts):
    with open(path, "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"prompt": t, "id": str(i)}) + "\n")


def m1rl_command(m1rl, model_dir, prompt_file, out_file, max_new_tokens, device):
    return [m1rl, "generate", "--model", model_dir, "--prompts", prompt_file, "--out", out_file, "--n", "1",
            "--greedy", "--temperature", "1", "--dtype", "float32", "--head", "ieee_fp32", "--device", device,
            "--max-new-tokens", str(max_new_tokens), "--prompt-template", "raw", "--repetition-run-length", "0"]


def read_completions(out_file, n):
    rows = {}
    with open(out_file) as f:
        for line in f:
            c = json.loads(line)
            rows[c["prompt_id"]] = c
    missing = [str(i) for i in range(n) if str(i) not in rows]
    if missing:
        sys.exit(f"{out_file}: no completion for prompt ids {missing} (made from other prompts?)")
    return [rows[str(i)] for i in range(n)]


def run_m1rl(m1rl, model_dir, texts, max_new_tokens, device, work):
    prompt_file = os.path.join(work, "prompts.jsonl")
    out_file = os.path.join(work, "m1rl.jsonl")
    write_prompts(prompt_file, texts)
    cmd = m1rl_command(m1rl, model_dir, prompt_file, out_file, max_new_tokens, device)
    print("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True)
    return read_completions(out_file, len(texts))


def compare_logprobs(model, rows, device):
    worst, total, agree = 0.0, 0, 0
    for r in rows:
        prompt = [int(x) for x in r.get("prompt_token_ids", [])]
        gen = [int(x) for x in r.get("token_ids", [])]
        ref = [float(x) for x in r.get("logprobs", [])]
        if not gen:
            print(f"prompt {r['prompt_id']}: no generated tokens")
            continue
        ids = torch.tensor([prompt + gen], device=device)
        with torch.no_grad():
            logits = model(input_ids=ids, use_cache=False).logits[0].float()
        logp = torch.log_softmax(logits, dim=-1)
        p0 = len(prompt) - 1  # position whose logits predict gen[0]
        idx = torch.arange(len(gen), device=device) + p0
        hf = logp[idx, torch.tensor(gen, device=device)].cpu()
        diff = (hf - torch.tensor(ref)).abs()
        arg = (logits[idx].argmax(-1).cpu() == torch.tensor(gen)).sum().item()
        print(f"prompt {r['prompt_id']}: {len(prompt)} prompt + {len(gen)} generated tokens, "
              f"max|dlogp| {diff.max().item():.3g}, mean {diff.mean().item():.3g}, argmax agree {arg}/{len(gen)}")
        worst = max(worst, diff.max().item())
        total += len(gen)
        agree += arg
    print(f"all: {total} tokens, max|dlogp| {worst:.3g}, argmax agreement {agree}/{total}")
    return worst


def compare_tokenizer(model_dir, texts, rows):
    if not os.path.exists(os.path.join(model_dir, "tokenizer.json")):
        print("tokenizer: none exported (m1rl char tokenizer); skipped")
        return True
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    same = 0
    for t, r in zip(texts, rows):
        hf = tok(t, add_special_tokens=False)["input_ids"]
        same += hf == [int(x) for x in r.get("prompt_token_ids", [])]
    print(f"tokenizer: {same}/{len(texts)} prompts tokenised identically by transformers and m1rl")
    return same == len(texts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="m1rl export directory (m1rl export --out / trainer.export_hf_dir)")
    ap.add_argument("--m1rl", help="path of the m1rl binary (generates the completions)")
    ap.add_argument("--m1rl-output", help="completions made by the command --write-prompts prints")
    ap.add_argument("--write-prompts", help="write the prompts here, print the m1rl command, exit")
    ap.add_argument("--device", default="cuda" if torch is not None and torch.cuda.is_available() else "cpu")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--long-prompt-words", type=int, default=300)
    ap.add_argument("--tol", type=float, default=1e-3, help="max |delta log-prob| that passes")
    a = ap.parse_args()
    texts = prompts(a.long_prompt_words)
    if a.write_prompts:
        write_prompts(a.write_prompts, texts)
        cmd = m1rl_command(a.m1rl or "build/m1rl", a.model, a.write_prompts, "OUT.jsonl", a.max_new_tokens, "cpu")
        print("$ " + " ".join(cmd))
        return 0
    if bool(a.m1rl) == bool(a.m1rl_output):
        ap.error("give exactly one of --m1rl and --m1rl-output")
    if torch is None:
        sys.exit("torch and transformers are needed (pip install torch transformers)")

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")

    with open(os.path.join(a.model, "config.json")) as f:
        cfg = json.load(f)
    conv = cfg.get("rope_convention", "(none: m1)")
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    print(f"config.json: model_type {cfg.get('model_type')}, rope_convention {conv}, "
          f"rotary_dim {cfg.get('rotary_dim')} of head_dim {head_dim}, dtype {cfg.get('dtype')}")
    if cfg.get("rope_convention", "m1") == "m1" and cfg.get("rotary_dim", head_dim) < head_dim:
        print("WARNING: m1 convention with partial rotary: transformers rotates the whole head, "
              "log-probs will differ (export with model.rope_convention: hf)")

    model, key_problems = load_hf(a.model, a.device, cfg.get("model_type", "minimax"))
    buffers_ok = check_buffers(model)
    if a.m1rl_output:
        rows = read_completions(a.m1rl_output, len(texts))
    else:
        with tempfile.TemporaryDirectory() as work:
            rows = run_m1rl(a.m1rl, a.model, texts, a.max_new_tokens, a.device, work)
    tokenizer_ok = compare_tokenizer(a.model, texts, rows)
    worst = compare_logprobs(model, rows, a.device)
    ok = key_problems == 0 and buffers_ok and tokenizer_ok and worst <= a.tol
    print(f"RESULT: {'PASS' if ok else 'FAIL'} (keys {key_problems} problems, buffers "
          f"{'ok' if buffers_ok else 'differ'}, tokenizer {'ok' if tokenizer_ok else 'differs'}, "
          f"max|dlogp| {worst:.3g} vs tol {a.tol})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
