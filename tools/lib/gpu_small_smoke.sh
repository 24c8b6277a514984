# shellcheck shell=bash
# The --smoke overrides of configs/gpu_small.yaml shared by tools/gpu_run.sh and tools/gpu_ablation.sh:
# tiny8-like shapes (7 lightning + 1 softmax layer) on CPU, 2-digit problems (~200-character traces).
GPU_SMALL_SMOKE_SETS=(model.hidden_size=32 model.intermediate_size=48 model.num_hidden_layers=8
  model.num_attention_heads=4 model.head_dim=8 model.num_key_value_heads=2 model.rotary_dim=4
  model.num_local_experts=4 model.device=cpu rollout.n_samples=4 rollout.max_new_tokens=224
  rollout.max_batch_size=64 algorithm.overlong.max_len=224 algorithm.overlong.cache_len=32 trainer.steps=2
  trainer.prompts_per_step=4 trainer.minibatches_per_step=2 trainer.micro_batch_tokens=4096
  trainer.sft_batch_size=8 trainer.eval_every=1 trainer.eval_prompts=8 trainer.checkpoint.every_steps=1
  trainer.tensorboard=false)
