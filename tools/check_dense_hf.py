#!/usr/bin/env python3
"""Dense family (Llama / Qwen2 / Qwen3) parity with transformers, without moving checkpoints between hosts.

Both sides build the same three random-weight models from a rule (tensor NAME of the Hugging Face state dict
holds random.Random(NAME) draws: N(0, 0.5^2) for the embedding and head, N(0, 0.3^2) for biases, 1 + N(0, 0.1^2)
for norm weights, N(0, 0.15^2) for the other matrices), so only a few hundred numbers travel:
  qwen2: QKV bias, untied head;  qwen3: q/k norm, QKV+O bias, tied head, head_dim 32 != hidden / heads;
  llama: llama3 RoPE scaling (factor 8, original_max_position_embeddings 64), tied head.
Vocabulary 99 (m1rl's char tokenizer), hidden 64, 3 layers, 4 query / 2 kv heads, MLP 96.

  python3 tools/check_dense_hf.py write DIR          # stdlib only: DIR/{qwen2,qwen3,llama} (config.json,
                                                      # model.safetensors) and DIR/prompts.jsonl
  for m in qwen2 qwen3 llama; do build/m1rl generate --model DIR/$m --prompts DIR/prompts.jsonl \
      --out DIR/m1rl_$m.jsonl --n 1 --greedy --dtype float32 --head ieee_fp32 --max-new-tokens 24 \
      --prompt-template raw --repetition-run-length 0; done
  python3 tools/check_dense_hf.py transformers OUT.json   # transformers host: greedy tokens + log-probs
  python3 tools/check_dense_hf.py compare DIR OUT.json    # identical tokens, max |delta log-prob| <= 1e-4
"""
import array
import json
import os
import random
import struct
import sys

BASE = dict(hidden_act="silu", vocab_size=99, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096, rms_norm_eps=1e-6)
MODELS = {
    "qwen2": dict(model_type="qwen2", tie_word_embeddings=False,
                  rope_parameters={"rope_type": "default", "rope_theta": 1e6}),
    "qwen3": dict(model_type="qwen3", head_dim=32, attention_bias=True, tie_word_embeddings=True,
                  rope_parameters={"rope_type": "default", "rope_theta": 1e6}),
    "llama": dict(model_type="llama", tie_word_embeddings=True,
                  rope_parameters={"rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0, "low_freq_factor": 1.0,
                                   "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
}
# m1rl's char tokenizer ids of PROMPTS (BOS 1 first), what the transformers side feeds.
PROMPTS = ["99+11=", "41+69=", "The quick brown fox jumps over the lazy dog. "]
PROMPT_IDS = [[1, 29, 29, 15, 21, 21, 33], [1, 24, 21, 15, 26, 29, 33],
              [1, 56, 76, 73, 4, 85, 89, 77, 71, 79, 4, 70, 86, 83, 91, 82, 4, 74, 83, 92, 4, 78, 89, 81, 84, 87, 4,
               83, 90, 73, 86, 4, 88, 76, 73, 4, 80, 69, 94, 93, 4, 72, 83, 75, 18, 4]]
NEW_TOKENS = 24


def values(name, count):
    r = random.Random(name)
    std = 0.5 if "embed" in name or "lm_head" in name else 0.3 if name.endswith("bias") else 0.15
    return [(1 + r.gauss(0, 0.1)) if "norm" in name else r.gauss(0, std) for _ in range(count)]


def shapes(kind):
    cfg = {**BASE, **MODELS[kind]}
    h, i, v, nh, kv = 64, 96, 99, 4, 2
    d = cfg.get("head_dim", h // nh)
    out = {"model.embed_tokens.weight": [v, h], "model.norm.weight": [h]}
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        out.update({p + "input_layernorm.weight": [h], p + "post_attention_layernorm.weight": [h],
                    p + "self_attn.q_proj.weight": [nh * d, h], p + "self_attn.k_proj.weight": [kv * d, h],
                    p + "self_attn.v_proj.weight": [kv * d, h], p + "self_attn.o_proj.weight": [h, nh * d],
                    p + "mlp.gate_proj.weight": [i, h], p + "mlp.up_proj.weight": [i, h],
                    p + "mlp.down_proj.weight": [h, i]})
        if kind != "llama":
            out.update({p + "self_attn.q_proj.bias": [nh * d], p + "self_attn.k_proj.bias": [kv * d],
                        p + "self_attn.v_proj.bias": [kv * d]})
        if kind == "qwen3":
            out.update({p + "self_attn.o_proj.bias": [h], p + "self_attn.q_norm.weight": [d],
                        p + "self_attn.k_norm.weight": [d]})
    if not cfg["tie_word_embeddings"]:
        out["lm_head.weight"] = [v, h]
    return cfg, out


def write(root):
    for kind in MODELS:
        cfg, tensors = shapes(kind)
        header, blobs, offset = {}, [], 0
        for name, shape in tensors.items():
            count = 1
            for x in shape:
                count *= x
            blob = array.array("f", values(name, count)).tobytes()
            header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
            blobs.append(blob)
            offset += len(blob)
        head = json.dumps(header).encode()
        head += b" " * ((8 - len(head) % 8) % 8)
        os.makedirs(os.path.join(root, kind), exist_ok=True)
        with open(os.path.join(root, kind, "model.safetensors"), "wb") as f:
            f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))
        with open(os.path.join(root, kind, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
    with open(os.path.join(root, "prompts.jsonl"), "w") as f:
        for i, p in enumerate(PROMPTS):
            f.write(json.dumps({"prompt": p, "id": str(i)}) + "\n")


def run_transformers(out_path):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.backends.cuda.matmul.allow_tf32 = False
    device = "cuda" if torch.cuda.is_available() else "cpu"
    result = {}
    for kind, extra in MODELS.items():
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**{**BASE, **extra}), dtype=torch.float32)
        with torch.no_grad():
            for name, p in model.named_parameters():  # a tied head is listed once, as the embedding
                p.copy_(torch.tensor(values(name, p.numel())).view(p.shape))
        model = model.to(device).eval()
        result[kind] = []
        for ids in PROMPT_IDS:
            o = model.generate(torch.tensor([ids], device=device), max_new_tokens=NEW_TOKENS, do_sample=False,
                               output_logits=True, return_dict_in_generate=True, eos_token_id=None, pad_token_id=0)
            tokens = o.sequences[0, len(ids):].tolist()
            logps = [torch.log_softmax(z[0].float(), -1)[t].item() for z, t in zip(o.logits, tokens)]
            result[kind].append([tokens, logps])
    with open(out_path, "w") as f:
        json.dump(result, f)


def compare(root, hf_path, tol=1e-4):
    with open(hf_path) as f:
        hf = json.load(f)
    ok = True
    for kind in MODELS:
        with open(os.path.join(root, f"m1rl_{kind}.jsonl")) as f:
            rows = {r["prompt_id"]: r for r in map(json.loads, f)}
        same, worst, count = 0, 0.0, 0
        for i, (tokens, logps) in enumerate(hf[kind]):
            r = rows[str(i)]
            n = len(r["token_ids"])  # m1rl stops at EOS; transformers here does not
            same += tokens[:n] == r["token_ids"]
            worst = max([worst] + [abs(a - b) for a, b in zip(logps[:n], r["logprobs"])])
            count += n
        print(f"{kind}: {same}/{len(hf[kind])} greedy sequences identical, {count} tokens, max|dlogp| {worst:.3g}")
        ok = ok and same == len(hf[kind]) and worst <= tol
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "write":
        write(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "transformers":
        run_transformers(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        return compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
