// bench_agreement: train/infer agreement of a policy for each LM-head precision (MODEL.md §7, M1 Fig. 3),
// on the same completions.
//   1. Completions are sampled once from the config's policy by the rollout path (Prefill + batched Step,
//      FP32 head, rollout.temperature), stopping at EOS or --max_new tokens.
//   2. For each head precision p (ieee_fp32, bf16_fp32_out, tf32, bf16) both sides score those tokens:
//      the rollout side by teacher-forced decode (Prefill + Step with head p, log softmax(z / T)[token]:
//      what the engine records as behaviour log-probs), the training side by the packed training forward
//      with head p (what the trainer recomputes as l_old).
//   3. algorithms::ComputeMismatchStats over every completion token: Pearson of token probabilities,
//      RMS log-ratio, mean |diff|, mean trainer entropy.
// The policy is the config's (model.init_from, else its random init), in its model.dtype precision
// (bfloat16 = bf16 compute over FP32 masters), on CUDA when present.
//
// Usage: bench_agreement --config configs/gpu_small.yaml [--set path=value ...] [--prompts 32]
//                        [--max_new 512] [--seed 1]
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/log_softmax.h>
#include <ATen/ops/multinomial.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tensor.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "algorithms/metrics.h"
#include "algorithms/mismatch.h"
#include "model/config.h"
#include "model/hybrid_model.h"
#include "model/tokenizer.h"
#include "rollout/rollout_config.h"
#include "trainer/dataset.h"
#include "trainer/policy.h"
#include "trainer/trainer_config.h"

namespace {

using m1rl::model::HeadPrecision;
using m1rl::model::HybridModel;

struct Sequence {
  std::vector<int32_t> prompt, completion;
};

// Rollout-path sampling with the FP32 head; one batched Step per token.
void Sample(const HybridModel& m, double temperature, int64_t max_new, int32_t eos, uint64_t seed,
            std::vector<Sequence>* seqs) {
  at::NoGradGuard no_grad;
  const m1rl::model::DecodeOptions dec{HeadPrecision::kIeeeFp32};
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<m1rl::model::SequenceState> states;
  std::vector<at::Tensor> first;
  for (Sequence& s : *seqs) {
    states.push_back(m.NewSequence());
    first.push_back(m.Prefill(&states.back(), s.prompt, dec));
  }
  at::Tensor logits = at::stack(first);  // [B, V]
  std::vector<size_t> active(seqs->size());
  for (size_t i = 0; i < active.size(); ++i) active[i] = i;
  for (int64_t t = 0; t < max_new && !active.empty(); ++t) {
    const at::Tensor probs = at::softmax(logits.to(at::kCPU, at::kDouble) / temperature, -1);
    const at::Tensor tok = at::multinomial(probs, 1, false, gen).reshape({-1});
    std::vector<size_t> next;
    std::vector<m1rl::model::SequenceState*> ptrs;
    std::vector<int32_t> toks;
    for (size_t j = 0; j < active.size(); ++j) {
      const int32_t id = static_cast<int32_t>(tok[static_cast<int64_t>(j)].item<int64_t>());
      (*seqs)[active[j]].completion.push_back(id);
      if (id == eos || t + 1 == max_new) continue;
      next.push_back(active[j]);
      ptrs.push_back(&states[active[j]]);
      toks.push_back(id);
    }
    active = next;
    if (!active.empty()) logits = m.Step(ptrs, toks, dec);
  }
}

// Teacher-forced decode with head `p`: log softmax(z / T)[completion[k]] for every k, concatenated.
std::vector<double> DecodeLogprobs(const HybridModel& m, HeadPrecision p, double temperature,
                                   const std::vector<Sequence>& seqs) {
  at::NoGradGuard no_grad;
  const m1rl::model::DecodeOptions dec{p};
  std::vector<m1rl::model::SequenceState> states;
  std::vector<at::Tensor> logits;  // per sequence: logits for its next completion token
  for (const Sequence& s : seqs) {
    states.push_back(m.NewSequence());
    logits.push_back(m.Prefill(&states.back(), s.prompt, dec));
  }
  std::vector<std::vector<double>> per_seq(seqs.size());
  for (size_t k = 0;; ++k) {
    std::vector<size_t> rows;  // sequences with a completion token k
    std::vector<int64_t> toks;
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (k >= seqs[i].completion.size()) continue;
      rows.push_back(i);
      toks.push_back(seqs[i].completion[k]);
    }
    if (rows.empty()) break;
    std::vector<at::Tensor> z;
    for (size_t i : rows) z.push_back(logits[i]);
    const at::Tensor lp = at::log_softmax(at::stack(z).to(at::kDouble) / temperature, -1)
                              .gather(1, at::tensor(toks, at::kLong).to(m.device()).unsqueeze(1))
                              .to(at::kCPU)
                              .contiguous();
    std::vector<m1rl::model::SequenceState*> ptrs;
    std::vector<int32_t> step_toks;
    std::vector<size_t> idx;
    for (size_t j = 0; j < rows.size(); ++j) {
      per_seq[rows[j]].push_back(lp.data_ptr<double>()[j]);
      if (k + 1 < seqs[rows[j]].completion.size()) {
        ptrs.push_back(&states[rows[j]]);
        step_toks.push_back(static_cast<int32_t>(toks[j]));
        idx.push_back(rows[j]);
      }
    }
    if (ptrs.empty()) break;
    const at::Tensor next = m.Step(ptrs, step_toks, dec);  // [B, V]
    for (size_t j = 0; j < idx.size(); ++j) logits[idx[j]] = next[static_cast<int64_t>(j)];
  }
  std::vector<double> out;
  for (const auto& v : per_seq) out.insert(out.end(), v.begin(), v.end());
  return out;
}

// The packed training forward with head `p`: completion log-probs and entropies, concatenated.
void TrainLogprobs(const HybridModel& m, HeadPrecision p, double temperature,
                   const std::vector<Sequence>& seqs, std::vector<double>* logprobs,
                   std::vector<double>* entropy) {
  at::NoGradGuard no_grad;
  std::vector<int64_t> input, target, cu{0}, begin;
  for (const Sequence& s : seqs) {
    std::vector<int32_t> all = s.prompt;
    all.insert(all.end(), s.completion.begin(), s.completion.end());
    begin.push_back(cu.back() + static_cast<int64_t>(s.prompt.size()) - 1);
    input.insert(input.end(), all.begin(), all.end() - 1);
    target.insert(target.end(), all.begin() + 1, all.end());
    cu.push_back(static_cast<int64_t>(input.size()));
  }
  m1rl::model::ForwardOptions fwd;
  fwd.head = p;
  fwd.temperature = temperature;
  fwd.compute_entropy = true;
  const auto longs = at::TensorOptions().dtype(at::kLong);
  const m1rl::model::ForwardOutput out =
      m.Forward(at::tensor(input, longs).to(m.device()), at::tensor(target, longs).to(m.device()), cu, fwd);
  const at::Tensor lp = out.logprobs.to(at::kCPU, at::kDouble).contiguous();
  const at::Tensor ent = out.entropy.to(at::kCPU, at::kDouble).contiguous();
  for (size_t i = 0; i < seqs.size(); ++i) {
    for (size_t k = 0; k < seqs[i].completion.size(); ++k) {
      logprobs->push_back(lp[begin[i] + static_cast<int64_t>(k)].item<double>());
      entropy->push_back(ent[begin[i] + static_cast<int64_t>(k)].item<double>());
    }
  }
}

std::string Flag(int argc, char** argv, const std::string& name, const std::string& def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == "--" + name) return argv[i + 1];
  return def;
}

std::vector<std::string> Sets(int argc, char** argv) {
  std::vector<std::string> out;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--set") out.push_back(argv[i + 1]);
  return out;
}

int Run(int argc, char** argv) {
  const std::string config_path = Flag(argc, argv, "config", "");
  if (config_path.empty()) {
    std::fprintf(stderr,
                 "usage: bench_agreement --config FILE [--set k=v ...] [--prompts N] [--max_new N]\n");
    return 2;
  }
  auto cfg = m1rl::trainer::LoadRunConfig(config_path, Sets(argc, argv));
  if (!cfg.ok()) return std::fprintf(stderr, "%s\n", cfg.status().ToString().c_str()), 1;
  const at::Device device = at::hasCUDA() ? at::Device("cuda:0") : at::Device(at::kCPU);
  auto policy = m1rl::trainer::InitialPolicy(*cfg, device);
  if (!policy.ok()) return std::fprintf(stderr, "%s\n", policy.status().ToString().c_str()), 1;
  auto tok = m1rl::model::LoadTokenizer(cfg->model().tokenizer().empty() ? "char" : cfg->model().tokenizer());
  if (!tok.ok()) return std::fprintf(stderr, "%s\n", tok.status().ToString().c_str()), 1;
  const std::string data =
      cfg->data().eval_path().empty() ? cfg->data().train_path() : cfg->data().eval_path();
  auto rows = m1rl::trainer::PromptDataset::Load(data);
  if (!rows.ok()) return std::fprintf(stderr, "%s\n", rows.status().ToString().c_str()), 1;
  const size_t n = std::min<size_t>(std::stoul(Flag(argc, argv, "prompts", "32")), rows->size());
  const int64_t max_new = std::stol(Flag(argc, argv, "max_new", "512"));
  const double temperature = m1rl::rollout::Temperature(cfg->rollout());
  std::vector<Sequence> seqs(n);
  for (size_t i = 0; i < n; ++i) {
    if ((*tok)->bos_id() >= 0) seqs[i].prompt.push_back((*tok)->bos_id());
    const std::vector<int32_t> body = (*tok)->Encode(rows->row(i).prompt);  // trainer.prompt_template raw
    seqs[i].prompt.insert(seqs[i].prompt.end(), body.begin(), body.end());
  }
  const auto t0 = std::chrono::steady_clock::now();
  Sample(**policy, temperature, max_new, (*tok)->eos_id(), std::stoull(Flag(argc, argv, "seed", "1")), &seqs);
  size_t tokens = 0;
  for (const Sequence& s : seqs) tokens += s.completion.size();
  std::printf(
      "bench_agreement: %s on %s, params %s / compute %s, %zu completions, %zu tokens (T %.2f), "
      "sampled in %.1f s\n",
      config_path.c_str(), device.str().c_str(), c10::toString((*policy)->dtype()),
      c10::toString((*policy)->compute_dtype()), n, tokens, temperature,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::printf("%-14s %10s %14s %14s %12s\n", "head", "pearson", "rms_log_ratio", "mean_abs_diff", "entropy");
  for (HeadPrecision p :
       {HeadPrecision::kIeeeFp32, HeadPrecision::kBf16Fp32Out, HeadPrecision::kTf32, HeadPrecision::kBf16}) {
    const std::vector<double> roll = DecodeLogprobs(**policy, p, temperature, seqs);
    std::vector<double> train, ent;
    TrainLogprobs(**policy, p, temperature, seqs, &train, &ent);
    const auto f64 = at::TensorOptions().dtype(at::kDouble);
    const m1rl::algorithms::MismatchMetrics mm =
        m1rl::algorithms::ComputeMismatchStats(at::tensor(train, f64), at::tensor(roll, f64),
                                               at::ones({static_cast<int64_t>(train.size())}, at::kBool),
                                               at::tensor(ent, f64))
            .Finalize();
    std::printf("%-14s %10.6f %14.6f %14.6f %12.4f\n", std::string(m1rl::model::HeadPrecisionName(p)).c_str(),
                mm.pearson, mm.rms_log_ratio, mm.mean_abs_logprob_diff, mm.mean_entropy.value_or(0.0));
  }
  return 0;
}

}  // namespace

// Bad flag values (std::stoul/stol/stoull) and LibTorch errors end the run with a message, not an abort.
int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "bench_agreement: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_agreement: %s\n", e.what());
    return 1;
  }
}
