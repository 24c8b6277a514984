#!/usr/bin/env python3
"""m1rl rollout vs Hugging Face transformers generate() on the same MiniMax checkpoint, in one run (GPU host).

Builds the issue-13 checkpoint with transformers' MiniMaxForCausalLM (8 layers: 7 lightning + 1 softmax,
hidden 512, 8 heads x 64, 2 KV heads, 8 experts top-2, intermediate 1024, vocab 32000, block 256, full rotary
so both sides compute the same function; about 143M parameters), saves it as bf16 safetensors, times
transformers generate() (greedy, exactly N new tokens, no EOS) and m1rl (tools/bench_decode on the saved
checkpoint, same prompts' shape), and prints tokens/s and the ratio per (batch, new tokens). Also writes the
config.json files of the larger configuration (~1.7B) and of a softmax-only model of the 143M shape for the
other benchmarks (random init, no weights needed).

  python3 tools/bench_vs_transformers.py --bench build-cuda/tools/bench_decode --work /tmp/bvt \
      [--batch-sizes 1,64] [--new-tokens 512,2048] [--hf-new-tokens 512]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
from transformers import MiniMaxConfig, MiniMaxForCausalLM


def make_config(hidden, layers, softmax_layers, heads, kv_heads, experts, inter, vocab=32000):
    alpha = (2 * layers) ** 0.25  # DeepNorm, as M1
    cfg = MiniMaxConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=64, num_local_experts=experts,
        num_experts_per_tok=2, block_size=256, max_position_embeddings=131072, tie_word_embeddings=False,
        layer_types=["full_attention" if i in softmax_layers else "linear_attention" for i in range(layers)],
        rope_parameters={"rope_type": "default", "rope_theta": 1e7, "partial_rotary_factor": 1.0},
        full_attn_alpha_factor=alpha, full_attn_beta_factor=1.0, linear_attn_alpha_factor=alpha,
        linear_attn_beta_factor=1.0, mlp_alpha_factor=alpha, mlp_beta_factor=1.0, bos_token_id=None,
        eos_token_id=None, pad_token_id=0, dtype="bfloat16")
    cfg.rotary_dim = 64  # full rotary (transformers 5.17 rotates all 64 dims whatever the config says)
    return cfg


def prompts(batch, length, vocab):
    # Same formula as tools/bench_decode.cc Prompt().
    return torch.tensor([[(b * 7919 + i * 104729 + 13) % vocab for i in range(length)] for b in range(batch)])


def hf_tokens_per_s(model, batch, new_tokens, prompt_len, vocab):
    ids = prompts(batch, prompt_len, vocab).cuda()
    mask = torch.ones_like(ids)
    kw = dict(do_sample=False, pad_token_id=0, eos_token_id=None)
    model.generate(ids, attention_mask=mask, max_new_tokens=8, min_new_tokens=8, **kw)  # warm-up
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = model.generate(ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **kw)
    torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    assert out.shape == (batch, prompt_len + new_tokens), out.shape
    return batch * new_tokens / secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="path of the bench_decode binary")
    ap.add_argument("--work", required=True, help="directory for checkpoint, configs and logs")
    ap.add_argument("--batch-sizes", default="1,64")
    ap.add_argument("--new-tokens", default="512,2048")
    ap.add_argument("--hf-new-tokens", default="512,2048",
                    help="new-token counts transformers runs at; other counts use its rate at the largest of these")
    ap.add_argument("--prompt-len", type=int, default=64)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    batches = [int(x) for x in a.batch_sizes.split(",")]
    news = [int(x) for x in a.new_tokens.split(",")]
    hf_news = [int(x) for x in a.hf_new_tokens.split(",")]

    # Configs of the other benchmarks.
    make_config(1024, 16, {7, 15}, 16, 4, 16, 2048).to_json_file(os.path.join(a.work, "large_1p7b.json"), use_diff=False)
    make_config(512, 8, set(range(8)), 8, 2, 8, 1024).to_json_file(os.path.join(a.work, "softmax_143m.json"), use_diff=False)
    make_config(512, 8, {7}, 8, 2, 8, 1024).to_json_file(os.path.join(a.work, "hybrid_143m.json"), use_diff=False)

    ckpt = os.path.join(a.work, "minimax_143m")
    torch.manual_seed(0)
    cfg = make_config(512, 8, {7}, 8, 2, 8, 1024)
    model = MiniMaxForCausalLM(cfg).to(dtype=torch.bfloat16, device="cuda").eval()
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(ckpt)
    print(f"checkpoint: {n_params / 1e6:.1f}M parameters -> {ckpt}", flush=True)

    hf = {}
    with torch.inference_mode():
        for n in hf_news:
            for b in batches:
                hf[(b, n)] = hf_tokens_per_s(model, b, n, a.prompt_len, cfg.vocab_size)
                print(f"transformers B={b} N={n}: {hf[(b, n)]:.1f} tok/s", flush=True)
    del model
    torch.cuda.empty_cache()

    jsonl = os.path.join(a.work, "m1rl_143m.jsonl")
    if os.path.exists(jsonl):
        os.remove(jsonl)
    subprocess.run([a.bench, "--model", ckpt, "--batch-sizes", a.batch_sizes, "--new-tokens", a.new_tokens,
                    "--prompt-len", str(a.prompt_len), "--profile-steps", "0", "--json", jsonl], check=True)
    ours = {}
    for line in open(jsonl):
        j = json.loads(line)
        if j.get("kind") == "throughput":
            ours[(j["batch"], j["new_tokens"])] = j["tokens_per_s"]

    print(f"\n{'B':>4} {'N':>6} {'m1rl tok/s':>12} {'transformers tok/s':>20} {'ratio':>8}  target")
    for n in news:
        for b in batches:
            ref_n = n if (b, n) in hf else max(hf_news)
            ref = hf[(b, ref_n)]
            note = "" if ref_n == n else f" (transformers at N={ref_n}: its per-token cost grows with N, so a lower bound)"
            target = 100 if b == 1 else 50
            r = ours[(b, n)] / ref
            print(f"{b:>4} {n:>6} {ours[(b, n)]:>12.1f} {ref:>20.1f} {r:>7.1f}x  >= {target}x "
                  f"{'PASS' if r >= target else 'FAIL'}{note}", flush=True)
            print("JSON " + json.dumps({"kind": "vs_transformers", "batch": b, "new_tokens": n, "m1rl": ours[(b, n)],
                                        "transformers": ref, "transformers_new_tokens": ref_n, "ratio": r}))


if __name__ == "__main__":
    sys.exit(main())
