# shellcheck shell=bash
# The ablation size of configs/gpu_small.yaml shared by tools/gpu_run.sh --small and tools/gpu_ablation.sh --small:
# half the layers and width (8 layers: 7 lightning + 1 softmax, hidden 512, 8 experts top-2, ~0.2B parameters)
# on 4x4-digit long multiplication (scratchpads of 535-640 characters), 16 prompts x 8 samples per RL step,
# held-out evaluation every 4 steps: one RL step takes seconds, so 3 arms x 2 seeds fit one device session.
GPU_SMALL_ABLATION_DIFFICULTY=4
GPU_SMALL_ABLATION_SFT_STEPS=1000
GPU_SMALL_ABLATION_SETS=(model.hidden_size=512 model.intermediate_size=1024 model.num_hidden_layers=8
  model.num_attention_heads=8 model.num_key_value_heads=2 model.num_local_experts=8
  rollout.max_new_tokens=720 algorithm.overlong.max_len=720 algorithm.overlong.cache_len=64
  trainer.prompts_per_step=16 trainer.minibatches_per_step=2 trainer.eval_every=4 trainer.eval_prompts=256
  trainer.checkpoint.every_steps=100000)
