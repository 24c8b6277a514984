#include "trainer/minibatch.h"

#include <ATen/ops/tensor.h>

#include <algorithm>

namespace m1rl::trainer {
namespace {

at::Tensor HostLongs(const std::vector<int64_t>& v) {
  return at::tensor(v.empty() ? std::vector<int64_t>{} : v, at::TensorOptions().dtype(at::kLong));
}

}  // namespace

MinibatchAssignment AssignMinibatches(const std::vector<int64_t>& gathered_keys,
                                      const std::vector<int64_t>& local_keys, int64_t requested) {
  std::vector<int64_t> sorted;
  for (int64_t k : gathered_keys) {
    if (k != kNoGroupKey) sorted.push_back(k);
  }
  std::sort(sorted.begin(), sorted.end());
  const int64_t n = static_cast<int64_t>(sorted.size());
  MinibatchAssignment a;
  a.num_minibatches = std::max<int64_t>(1, std::min<int64_t>(std::max<int64_t>(1, requested), n));
  for (int64_t key : local_keys) {
    const int64_t pos = std::lower_bound(sorted.begin(), sorted.end(), key) - sorted.begin();
    a.minibatch_of.push_back(pos * a.num_minibatches / std::max<int64_t>(1, n));
  }
  return a;
}

std::vector<std::vector<size_t>> SplitMicroBatches(const std::vector<int64_t>& positions,
                                                   int64_t token_budget) {
  std::vector<std::vector<size_t>> out;
  int64_t tokens = 0;
  for (size_t i = 0; i < positions.size(); ++i) {
    if (out.empty() || (token_budget > 0 && tokens + positions[i] > token_budget && tokens > 0)) {
      out.emplace_back();
      tokens = 0;
    }
    out.back().push_back(i);
    tokens += positions[i];
  }
  return out;
}

PackedSequences PackSequences(const std::vector<const std::vector<int32_t>*>& prompts,
                              const std::vector<const std::vector<int32_t>*>& completions,
                              at::Device device) {
  std::vector<int64_t> in, tg;
  PackedSequences p;
  p.cu_seqlens.push_back(0);
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int64_t> full(prompts[i]->begin(), prompts[i]->end());
    full.insert(full.end(), completions[i]->begin(), completions[i]->end());
    p.completion_begin.push_back(static_cast<int64_t>(in.size() + prompts[i]->size()) - 1);
    in.insert(in.end(), full.begin(), full.end() - 1);
    tg.insert(tg.end(), full.begin() + 1, full.end());
    p.cu_seqlens.push_back(static_cast<int64_t>(in.size()));
  }
  p.input_ids = HostLongs(in).to(device);
  p.targets = HostLongs(tg).to(device);
  return p;
}

PolicyMicroBatch BuildPolicyMicroBatch(const std::vector<const RlSample*>& samples,
                                       const std::vector<int64_t>& sequence_ids,
                                       const std::vector<int64_t>& group_ids, bool with_ref,
                                       at::Device device) {
  std::vector<const std::vector<int32_t>*> ps, cs;
  for (const RlSample* s : samples) {
    ps.push_back(&s->prompt);
    cs.push_back(&s->completion);
  }
  PolicyMicroBatch mb;
  mb.packed = PackSequences(ps, cs, device);
  const size_t num_tokens = static_cast<size_t>(mb.packed.cu_seqlens.back());
  std::vector<int64_t> mask(num_tokens, 0), sid(num_tokens, 0), gid(num_tokens, 0);
  std::vector<float> adv(num_tokens, 0.0f), old(num_tokens, 0.0f), roll(num_tokens, 0.0f),
      ref(with_ref ? num_tokens : 0, 0.0f);
  for (size_t i = 0; i < samples.size(); ++i) {
    const RlSample& s = *samples[i];
    std::fill(sid.begin() + mb.packed.cu_seqlens[i], sid.begin() + mb.packed.cu_seqlens[i + 1],
              sequence_ids[i]);
    std::fill(gid.begin() + mb.packed.cu_seqlens[i], gid.begin() + mb.packed.cu_seqlens[i + 1], group_ids[i]);
    for (size_t k = 0; k < s.completion.size(); ++k) {
      const size_t t = static_cast<size_t>(mb.packed.completion_begin[i]) + k;
      mask[t] = s.loss_mask[k];
      adv[t] = static_cast<float>(s.advantage);
      old[t] = s.old_logprobs[k];
      roll[t] = s.rollout_logprobs[k];
      if (with_ref) ref[t] = s.ref_logprobs[k];
    }
  }
  mb.mask = HostLongs(mask).to(at::kBool).to(device);
  mb.sequence_ids = HostLongs(sid).to(device);
  mb.group_ids = HostLongs(gid).to(device);
  mb.advantages = at::tensor(adv).to(device);
  mb.old_logprobs = at::tensor(old).to(device);
  mb.rollout_logprobs = at::tensor(roll).to(device);
  if (with_ref) mb.ref_logprobs = at::tensor(ref).to(device);
  return mb;
}

}  // namespace m1rl::trainer
