// bench_decode: rollout throughput of the engine on a device (GPU host), the per-phase profile of one decode
// step, and the step's HBM roofline.
//
//   bench_decode (--model DIR | --config config.json | --preset NAME) [--device cuda] [--dtype bfloat16]
//                [--batch-sizes 1,64] [--new-tokens 512,2048] [--prompt-len 64] [--sample] [--cuda-graphs 1]
//                [--profile-steps 50] [--profile-batch 64] [--profile-context 512] [--json out.jsonl]
//
// Throughput: B requests of prompt-len random tokens, greedy (or T = 1 sampling with --sample), no EOS, each
// generating exactly N tokens through Engine::Generate after a short warm-up; tokens/s = B·N / wall time of
// Generate (prefill, decode, sampling, readback, bookkeeping). Peak device memory is the caching allocator's
// peak during the timed run.
// Profile: --profile-steps eager decode steps of --profile-batch sequences at context --profile-context,
// straight on the model's slot API with CUDA events between phases (embed, lightning, softmax, moe, head) and
// around the fused sampler, plus the same step replayed as one CUDA graph. Roofline: bytes a step must move
// (weights read once: attention, norms, the experts the batch routes to in expectation, the head; lightning
// states read + written in fp32; K/V read) over the bandwidth of a 2 GiB device copy measured here.
#include <ATen/core/Tensor.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>
#include <torch/csrc/api/include/torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/flags.h"
#include "kernels/cuda/sampling_args.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "model/hybrid_model.h"
#include "nlohmann/json.hpp"
#include "rollout/engine.h"
#include "rollout/hybrid_decode_model.h"

namespace m1rl {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<int64_t> ParseList(const std::string& s) {
  std::vector<int64_t> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty()))
    out.push_back(std::stoll(std::string{part}));
  return out;
}

// Read + write bandwidth of a 2 GiB device-to-device copy (median of 10), bytes/s.
double CopyBandwidth(at::Device device) {
  if (!device.is_cuda()) return 0.0;
  const int64_t n = int64_t{1} << 30;
  at::Tensor a = at::empty({n}, at::TensorOptions().dtype(at::kByte).device(device));
  at::Tensor b = at::empty({n}, at::TensorOptions().dtype(at::kByte).device(device));
  a.fill_(1);
  std::vector<double> ms;
  for (int i = 0; i < 13; ++i) {
    ops::DeviceEvent e0(device), e1(device);
    e0.Record();
    b.copy_(a);
    e1.Record();
    e1.Wait();
    if (i >= 3) ms.push_back(e1.ElapsedMsSince(e0));
  }
  std::sort(ms.begin(), ms.end());
  return 2.0 * static_cast<double>(n) / (ms[ms.size() / 2] * 1e-3);
}

struct StepBytes {
  double weights = 0, experts = 0, head = 0, states = 0, kv = 0;
  double Total() const { return weights + experts + head + states + kv; }
};

// Bytes one decode step of `batch` sequences at context `context` must move (see the file comment).
StepBytes BytesPerStep(const model::HybridModel& m, int64_t batch, int64_t context) {
  const model::ModelConfig& c = m.config();
  StepBytes s;
  const double e = static_cast<double>(c10::elementSize(m.dtype()));
  const double k = static_cast<double>(c.num_experts_per_tok), ne = static_cast<double>(c.num_local_experts);
  const double touched = ne * (1.0 - std::pow(1.0 - k / ne, static_cast<double>(batch)));  // expected experts
  for (const auto& [name, t] : m.NamedParameters()) {
    const double bytes = static_cast<double>(t.numel() * t.element_size());
    if (name == "model.embed_tokens.weight") {
      s.weights += static_cast<double>(batch * c.hidden_size) * e;
      if (c.tie_word_embeddings) s.head += bytes;  // the dense family's tied head reads it whole
    } else if (name == "lm_head.weight") {
      s.head += bytes;
    } else if (name.find("mlp.experts") != std::string::npos) {
      s.experts += bytes * touched / ne;
    } else {
      s.weights += bytes;
    }
  }
  const double d = static_cast<double>(c.head_dim);
  s.states = 2.0 * 4.0 * static_cast<double>(c.num_layers_of(model::LayerType::kLinearAttention)) *
             static_cast<double>(c.num_attention_heads) * d * d * static_cast<double>(batch);
  s.kv = static_cast<double>(c.num_layers_of(model::LayerType::kFullAttention)) * 2.0 *
         static_cast<double>(c.num_key_value_heads) * d * e * static_cast<double>(context) *
         static_cast<double>(batch);
  return s;
}

std::vector<int32_t> Prompt(int64_t len, int64_t vocab, int64_t b) {
  std::vector<int32_t> p;
  for (int64_t i = 0; i < len; ++i) p.push_back(static_cast<int32_t>((b * 7919 + i * 104729 + 13) % vocab));
  return p;
}

struct Options {
  std::string model_dir, config_path, preset, device = "cuda", dtype = "bfloat16", batch_sizes = "1,64",
                                              new_tokens = "512,2048", json;
  int64_t prompt_len = 64, profile_steps = 50, profile_batch = 64, profile_context = 512, seed = 1,
          progress_every = 0;
  bool sample = false;
  int64_t cuda_graphs = 1;
};

void EmitJson(const Options& o, const nlohmann::json& j) {
  std::cout << "JSON " << j.dump() << "\n";
  if (!o.json.empty()) std::ofstream(o.json, std::ios::app) << j.dump() << "\n";
}

int Throughput(const Options& o, model::HybridModel& policy, double bandwidth) {
  rollout::HybridDecodeModel decode(&policy);
  const int64_t vocab = policy.config().vocab_size;
  std::cout << std::left << std::setw(7) << "B" << std::setw(7) << "N" << std::setw(14) << "tok/s"
            << std::setw(12) << "step ms" << std::setw(12) << "prefill ms" << std::setw(14) << "peak MiB"
            << std::setw(9) << "HBM %"
            << "path\n";
  for (int64_t n_new : ParseList(o.new_tokens)) {
    for (int64_t batch : ParseList(o.batch_sizes)) {
      std::vector<rollout::GenerationRequest> rs(batch);
      for (int64_t b = 0; b < batch; ++b) {
        rs[b].prompt_id = std::to_string(b);
        rs[b].prompt_token_ids = Prompt(o.prompt_len, vocab, b);
        rs[b].max_new_tokens = static_cast<int32_t>(n_new);
        rs[b].seed = static_cast<uint64_t>(o.seed * 1000 + b);
        rs[b].sampling.greedy = !o.sample;
      }
      rollout::EngineOptions eo;
      eo.max_batch_size = static_cast<int32_t>(batch);
      eo.cuda_graphs = o.cuda_graphs != 0;
      auto engine = rollout::Engine::Create(&decode, eo);
      if (!engine.ok()) {
        std::cerr << engine.status() << "\n";
        return 1;
      }
      std::vector<rollout::GenerationRequest> warm = rs;
      for (auto& r : warm) r.max_new_tokens = std::min<int32_t>(16, r.max_new_tokens);
      if (!(*engine)->Generate(warm).ok()) return 1;
      ops::PeakDeviceBytes(policy.device(), /*reset=*/true);
      const auto t0 = Clock::now();
      int64_t next_report = o.progress_every;
      auto progress = [&](const rollout::GenerationStats& s, int64_t) {
        if (o.progress_every <= 0 || s.decode_steps < next_report) return;
        next_report += o.progress_every;
        const double el = std::chrono::duration<double>(Clock::now() - t0).count();
        std::cout << "  progress: step " << s.decode_steps << ", " << s.generated_tokens << " tokens, "
                  << std::setprecision(1) << std::fixed << el << " s, " << s.generated_tokens / el
                  << " tok/s, peak "
                  << ops::PeakDeviceBytes(policy.device(), false) / static_cast<double>(1 << 20) << " MiB\n"
                  << std::flush;
      };
      auto out = (*engine)->Generate(rs, nullptr, progress);
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      if (!out.ok()) {
        std::cerr << out.status() << "\n";
        return 1;
      }
      const rollout::GenerationStats& st = (*engine)->last_stats();
      const double peak_mib = static_cast<double>(ops::PeakDeviceBytes(policy.device(), false)) / (1 << 20);
      const double tps = static_cast<double>(st.generated_tokens) / secs;
      const double step_ms = st.decode_steps > 0 ? st.step_ms / static_cast<double>(st.decode_steps) : 0.0;
      // Roofline at the mean context of the run.
      const StepBytes bytes = BytesPerStep(policy, batch, o.prompt_len + n_new / 2);
      const double floor_ms = bandwidth > 0 ? bytes.Total() / bandwidth * 1e3 : 0.0;
      const double pct = step_ms > 0 && floor_ms > 0 ? 100.0 * floor_ms / step_ms : 0.0;
      std::cout << std::left << std::setw(7) << batch << std::setw(7) << n_new << std::fixed
                << std::setprecision(1) << std::setw(14) << tps << std::setprecision(3) << std::setw(12)
                << step_ms << std::setw(12) << st.prefill_ms << std::setprecision(1) << std::setw(14)
                << peak_mib << std::setw(9) << pct << st.decode_path
                << (st.graph_note.empty() ? "" : " (" + st.graph_note + ")") << "\n"
                << std::flush;
      EmitJson(o, {{"kind", "throughput"},
                   {"batch", batch},
                   {"new_tokens", n_new},
                   {"prompt_len", o.prompt_len},
                   {"tokens_per_s", tps},
                   {"wall_s", secs},
                   {"step_ms", step_ms},
                   {"decode_steps", st.decode_steps},
                   {"prefill_ms", st.prefill_ms},
                   {"peak_device_bytes", ops::PeakDeviceBytes(policy.device(), false)},
                   {"bytes_per_step", bytes.Total()},
                   {"roofline_step_ms", floor_ms},
                   {"hbm_roofline_pct", pct},
                   {"decode_path", st.decode_path},
                   {"graphs_captured", st.graphs_captured},
                   {"graph_note", st.graph_note}});
    }
  }
  return 0;
}

// Eager decode steps with events between phases, then the same step as one graph.
int Profile(const Options& o, model::HybridModel& policy, double bandwidth) {
  const at::Device dev = policy.device();
  const int64_t b = o.profile_batch, ctx = o.profile_context, steps = o.profile_steps;
  const int64_t vocab = policy.config().vocab_size;
  model::DecodePool pool = policy.NewDecodePool(b, ctx + steps + 2);
  std::vector<int32_t> slot_ids(b);
  std::vector<std::vector<int32_t>> prompts(b);
  for (int64_t i = 0; i < b; ++i) {
    slot_ids[i] = static_cast<int32_t>(i);
    prompts[i] = Prompt(ctx, vocab, i);
  }
  model::DecodeOptions opts;
  for (int64_t i = 0; i < b; i += 16) {  // prefill in groups (bounded activation memory)
    const int64_t e = std::min(b, i + 16);
    policy.PrefillSlots(&pool, std::vector<int32_t>(slot_ids.begin() + i, slot_ids.begin() + e),
                        std::vector<std::vector<int32_t>>(prompts.begin() + i, prompts.begin() + e), opts);
  }
  const auto i32 = at::TensorOptions().dtype(at::kInt).device(dev);
  const at::Tensor slots = at::arange(b, i32);
  at::Tensor positions = at::full({b}, ctx, at::TensorOptions().dtype(at::kLong).device(dev));
  const at::Tensor tokens = at::randint(vocab, {b}, at::TensorOptions().dtype(at::kLong).device(dev));
  // Sampler inputs: T = 1 sampling for every slot.
  std::vector<cuda::SlotSamplingParams> params(b);
  std::vector<cuda::SlotSamplingState> state(b);
  for (auto& p : params) p.max_new_tokens = p.max_generated = 1 << 30;
  for (auto& s : state) s.stop = cuda::kStopNone;
  ops::SampleSlotsTensors st;
  const auto u8 = at::TensorOptions().dtype(at::kByte);
  st.slots = slots;
  st.params =
      at::from_blob(params.data(), {b, static_cast<int64_t>(sizeof(cuda::SlotSamplingParams))}, u8).to(dev);
  st.state =
      at::from_blob(state.data(), {b, static_cast<int64_t>(sizeof(cuda::SlotSamplingState))}, u8).to(dev);
  st.eos_ids = at::empty({0}, i32);
  st.next_token = at::zeros({b}, at::TensorOptions().dtype(at::kLong).device(dev));
  st.length = at::zeros({b}, at::TensorOptions().dtype(at::kLong).device(dev));
  st.out_token = at::empty({b}, i32);
  st.out_stop = at::empty({b}, i32);
  st.out_logprob = at::empty({b}, i32.dtype(at::kFloat));

  std::map<std::string, double> phase_ms;
  std::vector<std::pair<std::string, std::unique_ptr<ops::DeviceEvent>>> marks;
  opts.on_phase = [&](const char* phase) {
    marks.emplace_back(phase, std::make_unique<ops::DeviceEvent>(dev));
    marks.back().second->Record();
  };
  double total_ms = 0.0;
  for (int64_t s = 0; s < steps + 3; ++s) {
    marks.clear();
    const at::Tensor logits = policy.StepSlots(&pool, slots, tokens, positions, opts).to(at::kFloat);
    opts.on_phase("sampler");
    st.logits = logits;
    ops::SampleSlots(st, 0.99, 0, 0);
    opts.on_phase("done");
    marks.back().second->Wait();
    if (s < 3) continue;  // warm-up
    for (size_t i = 0; i + 1 < marks.size(); ++i)
      phase_ms[marks[i].first] += marks[i + 1].second->ElapsedMsSince(*marks[i].second);
    total_ms += marks.back().second->ElapsedMsSince(*marks.front().second);
  }
  opts.on_phase = nullptr;
  // The same step captured as one graph.
  std::string why;
  auto step = [&] {
    st.logits = policy.StepSlots(&pool, slots, tokens, positions, opts).to(at::kFloat);
    ops::SampleSlots(st, 0.99, 0, 0);
    st.logits = at::Tensor();
  };
  std::unique_ptr<ops::DeviceGraph> graph = ops::CaptureDeviceGraph(dev, step, &why);
  double graph_ms = 0.0;
  if (graph != nullptr) {
    ops::DeviceEvent e0(dev), e1(dev);
    for (int i = 0; i < 3; ++i) graph->Replay();
    e0.Record();
    for (int64_t s = 0; s < steps; ++s) graph->Replay();
    e1.Record();
    e1.Wait();
    graph_ms = e1.ElapsedMsSince(e0) / static_cast<double>(steps);
  }
  const StepBytes bytes = BytesPerStep(policy, b, ctx);
  const double floor_ms = bandwidth > 0 ? bytes.Total() / bandwidth * 1e3 : 0.0;
  std::cout << "\nprofile: batch " << b << ", context " << ctx << ", " << steps
            << " eager steps (CUDA events between phases; launch gaps fall into the next phase)\n";
  nlohmann::json j = {{"kind", "profile"}, {"batch", b}, {"context", ctx}};
  for (const auto& [name, ms] : phase_ms) {
    std::cout << "  " << std::left << std::setw(10) << name << std::fixed << std::setprecision(4)
              << ms / static_cast<double>(steps) << " ms/step  (" << std::setprecision(1)
              << 100.0 * ms / total_ms << "%)\n";
    j["phase_ms"][name] = ms / static_cast<double>(steps);
  }
  std::cout << "  eager step " << std::setprecision(4) << total_ms / static_cast<double>(steps)
            << " ms; graph replay " << graph_ms << " ms"
            << (graph == nullptr ? " (capture failed: " + why + ")" : "")
            << "\n  roofline: " << std::setprecision(1) << bytes.Total() / 1e6 << " MB/step (weights "
            << bytes.weights / 1e6 << ", experts " << bytes.experts / 1e6 << ", head " << bytes.head / 1e6
            << ", lightning states " << bytes.states / 1e6 << ", KV " << bytes.kv / 1e6 << ") at "
            << bandwidth / 1e12 << " TB/s = " << std::setprecision(4) << floor_ms << " ms; graph step at "
            << std::setprecision(1) << (graph_ms > 0 ? 100.0 * floor_ms / graph_ms : 0.0)
            << "% of roofline\n";
  j["eager_step_ms"] = total_ms / static_cast<double>(steps);
  j["graph_step_ms"] = graph_ms;
  j["roofline_step_ms"] = floor_ms;
  j["bytes_per_step"] = bytes.Total();
  EmitJson(o, j);
  return 0;
}

int Run(int argc, char** argv) {
  Options o;
  FlagSet flags("bench_decode",
                "Rollout engine throughput, decode-step profile and HBM roofline on a device.");
  flags.AddString("model", &o.model_dir, "HF checkpoint directory (weights loaded)");
  flags.AddString("config", &o.config_path, "HF config.json (random init)");
  flags.AddString("preset", &o.preset, "model preset (random init)");
  flags.AddString("device", &o.device, "cuda or cpu");
  flags.AddString("dtype", &o.dtype, "bfloat16 or float32");
  flags.AddString("batch-sizes", &o.batch_sizes, "comma-separated batch sizes");
  flags.AddString("new-tokens", &o.new_tokens, "comma-separated generated tokens per sequence");
  flags.AddInt("prompt-len", &o.prompt_len, "prompt tokens per sequence");
  flags.AddBool("sample", &o.sample, "sample at T = 1 instead of greedy");
  flags.AddInt("cuda-graphs", &o.cuda_graphs, "1 = replay decode steps from CUDA graphs");
  flags.AddInt("profile-steps", &o.profile_steps, "profiled decode steps (0 = no profile)");
  flags.AddInt("profile-batch", &o.profile_batch, "sequences in the profiled step");
  flags.AddInt("profile-context", &o.profile_context, "context length of the profiled step");
  flags.AddString("json", &o.json, "append JSON lines here");
  flags.AddInt("progress-every", &o.progress_every,
               "print running tokens/s every this many decode steps (0 = off)");
  flags.AddInt("seed", &o.seed, "init / prompt seed");
  if (std::optional<int> exit_code = flags.ParseForCommand(argc, argv, 1)) return *exit_code;
  const at::ScalarType dtype = o.dtype == "float32" ? at::kFloat : at::kBFloat16;
  const at::Device device(o.device);
  absl::StatusOr<std::unique_ptr<model::HybridModel>> policy;
  if (!o.model_dir.empty()) {
    policy = model::HybridModel::LoadHf(o.model_dir, dtype, device);
  } else {
    absl::StatusOr<model::ModelConfig> config;
    if (!o.config_path.empty()) {
      std::ifstream in(o.config_path);
      std::stringstream ss;
      ss << in.rdbuf();
      config = model::ModelConfig::FromHfConfigJson(nlohmann::json::parse(ss.str()));
    } else {
      config = model::ModelConfig::Preset(o.preset.empty() ? "tiny8" : o.preset);
    }
    if (!config.ok()) {
      std::cerr << config.status() << "\n";
      return 1;
    }
    policy = model::HybridModel::Create(*config, dtype, device, static_cast<uint64_t>(o.seed));
  }
  if (!policy.ok()) {
    std::cerr << policy.status() << "\n";
    return 1;
  }
  const double bw = CopyBandwidth(device);
  std::cout << "bench_decode: " << (*policy)->NumParameters() / 1e6 << "M parameters, " << o.dtype << " on "
            << o.device << ", LibTorch " << TORCH_VERSION << ", device copy bandwidth " << bw / 1e12
            << " TB/s, prompt " << o.prompt_len << (o.sample ? ", T=1 sampling" : ", greedy") << ", no EOS\n";
  if (!o.batch_sizes.empty() && !o.new_tokens.empty()) {
    if (int rc = Throughput(o, **policy, bw); rc != 0) return rc;
  }
  if (o.profile_steps > 0) return Profile(o, **policy, bw);
  return 0;
}

}  // namespace
}  // namespace m1rl

int main(int argc, char** argv) {
  try {
    return m1rl::Run(argc, argv);
  } catch (const c10::Error& e) {
    std::cerr << "bench_decode: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {  // bad flag values (std::stoll, ...), JSON output errors
    std::cerr << "bench_decode: " << e.what() << "\n";
    return 1;
  }
}
