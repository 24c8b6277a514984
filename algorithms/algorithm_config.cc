#include "algorithms/algorithm_config.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "proto/config_algorithm.pb.h"

namespace m1rl::algorithms {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Fields with no preset value: setting them is not a deviation.
const std::set<std::string>& NoDefaultFields() {
  static const std::set<std::string> kFields = {"algorithm.is_weight.eps_high", "algorithm.generation_budget",
                                                "algorithm.overlong.max_len", "algorithm.overlong.cache_len"};
  return kFields;
}

std::string ScalarString(const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  if (!r->HasField(m, f)) return "unset";
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(m, f) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_ENUM:
      return EnumValueYamlName(r->GetEnum(m, f));
    default:
      return "?";
  }
}

// Lists user-set scalar fields whose value differs from the preset's, recursing into sub-messages.
void CollectDeviations(const Message& user, const Message& preset, const std::string& prefix,
                       const char* preset_name, std::vector<std::string>* out) {
  const auto* desc = user.GetDescriptor();
  const Reflection* r = user.GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    const std::string path = absl::StrCat(prefix, ".", f->name());
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (r->HasField(user, f)) {
        CollectDeviations(r->GetMessage(user, f), preset.GetReflection()->GetMessage(preset, f), path,
                          preset_name, out);
      }
      continue;
    }
    if (path == "algorithm.preset" || !r->HasField(user, f)) continue;
    const std::string mine = ScalarString(user, f);
    const std::string theirs = ScalarString(preset, f);
    if (mine == theirs) continue;
    if (theirs == "unset" && NoDefaultFields().count(path) > 0) continue;
    out->push_back(absl::StrCat(path, ": ", mine, " (preset ", preset_name, ": ", theirs, ")"));
  }
}

absl::Status Finite(double v, std::string_view path) {
  if (!std::isfinite(v))
    return absl::InvalidArgumentError(absl::StrCat(std::string(path), " must be finite, got ", v));
  return absl::OkStatus();
}

absl::Status Positive(double v, std::string_view path) {
  M1RL_RETURN_IF_ERROR(Finite(v, path));
  if (!(v > 0)) return absl::InvalidArgumentError(absl::StrCat(std::string(path), " must be > 0, got ", v));
  return absl::OkStatus();
}

absl::Status ResolveRolloutCorrection(const config::RolloutCorrectionConfig& rc,
                                      RolloutCorrectionParams* out) {
  switch (rc.mode()) {
    case config::RolloutCorrectionConfig::MODE_TIS:
      out->kind = RolloutCorrection::kTis;
      break;
    case config::RolloutCorrectionConfig::MODE_ICEPOP:
      out->kind = RolloutCorrection::kIcePop;
      break;
    default:
      out->kind = RolloutCorrection::kNone;
  }
  M1RL_RETURN_IF_ERROR(Finite(rc.tis_cap(), "algorithm.rollout_correction.tis_cap"));
  if (rc.tis_cap() < 1.0) {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm.rollout_correction.tis_cap must be >= 1 (rho = 1 must keep weight 1), got ",
                     rc.tis_cap()));
  }
  M1RL_RETURN_IF_ERROR(Finite(rc.icepop_k(), "algorithm.rollout_correction.icepop_k"));
  if (!(rc.icepop_k() > 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "algorithm.rollout_correction.icepop_k must be > 1 (band [1/k, k]), got ", rc.icepop_k()));
  }
  out->tis_cap = rc.tis_cap();
  out->icepop_k = rc.icepop_k();
  return absl::OkStatus();
}

// proto enum -> the module's C++ enums (the YAML names are the proto's; see common/config.h).
KlEstimator ToKl(config::KlConfig::Estimator e) {
  switch (e) {
    case config::KlConfig::ESTIMATOR_K1:
      return KlEstimator::kK1;
    case config::KlConfig::ESTIMATOR_K2:
      return KlEstimator::kK2;
    case config::KlConfig::ESTIMATOR_K3:
      return KlEstimator::kK3;
    default:
      return KlEstimator::kNone;
  }
}

LossAgg ToLossAgg(config::AlgorithmConfig::LossAgg a) {
  switch (a) {
    case config::AlgorithmConfig::LOSS_AGG_SEQ_MEAN_TOKEN_MEAN:
      return LossAgg::kSeqMeanTokenMean;
    case config::AlgorithmConfig::LOSS_AGG_GROUP_TOKEN_MEAN:
      return LossAgg::kGroupTokenMean;
    case config::AlgorithmConfig::LOSS_AGG_SEQ_MEAN_TOKEN_SUM_NORM:
      return LossAgg::kSeqMeanTokenSumNorm;
    default:
      return LossAgg::kTokenMean;
  }
}

RepetitionPolicy ToRepetitionPolicy(config::RepetitionConfig::Policy p) {
  switch (p) {
    case config::RepetitionConfig::POLICY_SCORE:
      return RepetitionPolicy::kScore;
    case config::RepetitionConfig::POLICY_FAIL_MASK_RUN:
      return RepetitionPolicy::kFailMaskRun;
    case config::RepetitionConfig::POLICY_MASK_ALL:
      return RepetitionPolicy::kMaskAll;
    case config::RepetitionConfig::POLICY_DROP:
      return RepetitionPolicy::kDrop;
    default:
      return RepetitionPolicy::kFail;
  }
}

Preset ToPreset(config::AlgorithmConfig::Preset p) {
  switch (p) {
    case config::AlgorithmConfig::PRESET_GRPO:
      return Preset::kGrpo;
    case config::AlgorithmConfig::PRESET_DAPO:
      return Preset::kDapo;
    case config::AlgorithmConfig::PRESET_REINFORCE:
      return Preset::kReinforce;
    default:
      return Preset::kCispo;
  }
}

config::AlgorithmConfig::Preset FromPreset(Preset p) {
  switch (p) {
    case Preset::kGrpo:
      return config::AlgorithmConfig::PRESET_GRPO;
    case Preset::kDapo:
      return config::AlgorithmConfig::PRESET_DAPO;
    case Preset::kReinforce:
      return config::AlgorithmConfig::PRESET_REINFORCE;
    case Preset::kCispo:
      break;
  }
  return config::AlgorithmConfig::PRESET_CISPO;
}

// Overlong (DAPO §3.4): L_max follows the generation budget unless set; an explicit L_max above the
// budget is an error (the penalty would never fire); L_cache defaults to the DAPO recipe's 4096,
// capped at L_max / kOverlongCacheDivisor (20480 / 5 = 4096).
absl::Status ResolveOverlong(const config::OverlongConfig& ol, int64_t max_new_tokens,
                             ResolvedAlgorithm* out) {
  out->overlong = ol.enabled();
  if (ol.has_max_len() && ol.max_len() > max_new_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "algorithm.overlong.max_len (", ol.max_len(), ") must be <= rollout.max_new_tokens (", max_new_tokens,
        "), the generation budget: no completion can be longer, so the penalty would never apply; leave "
        "algorithm.overlong.max_len unset to follow the budget"));
  }
  out->overlong_max_len = ol.has_max_len() ? ol.max_len() : max_new_tokens;
  out->overlong_cache_len =
      ol.has_cache_len()
          ? ol.cache_len()
          : std::max<int64_t>(1, std::min(kOverlongCacheLen, out->overlong_max_len / kOverlongCacheDivisor));
  if (!out->overlong) return absl::OkStatus();
  if (out->overlong_cache_len <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm.overlong.cache_len must be > 0, got ", out->overlong_cache_len));
  }
  if (out->overlong_max_len < out->overlong_cache_len) {
    return absl::InvalidArgumentError(absl::StrCat("algorithm.overlong.max_len (", out->overlong_max_len,
                                                   ") must be >= algorithm.overlong.cache_len (",
                                                   out->overlong_cache_len, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Preset> ParsePreset(std::string_view name) {
  const auto* v = FindEnumValueByYamlName(config::AlgorithmConfig::Preset_descriptor(), name);
  if (v == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "algorithm.preset must be one of ", EnumYamlNames(config::AlgorithmConfig::Preset_descriptor()),
        ", got \"", std::string(name), "\""));
  }
  return ToPreset(static_cast<config::AlgorithmConfig::Preset>(v->number()));
}

std::string PresetName(Preset preset) { return YamlName(FromPreset(preset)); }

config::AlgorithmConfig PresetConfig(Preset preset) {
  config::AlgorithmConfig c;
  c.set_preset(FromPreset(preset));
  // Shared by every preset.
  c.mutable_advantage()->set_estimator(config::AdvantageConfig::ESTIMATOR_GRPO);
  c.mutable_advantage()->set_scale_by_std(true);
  c.mutable_advantage()->set_std_kind(config::AdvantageConfig::STD_KIND_SAMPLE);
  c.mutable_advantage()->set_std_eps(1e-6);
  c.mutable_dynamic_sampling()->set_max_gen_rounds(10);
  c.mutable_dynamic_sampling()->set_on_exhausted(config::DynamicSamplingConfig::ON_EXHAUSTED_ERROR);
  c.mutable_repetition()->set_enabled(true);
  c.mutable_repetition()->set_threshold(0.99);
  c.mutable_repetition()->set_run_length(3000);
  c.mutable_repetition()->set_policy(config::RepetitionConfig::POLICY_FAIL);
  c.mutable_repetition()->set_failure_reward(0.0);
  c.set_ratio_denominator(config::AlgorithmConfig::RATIO_DENOMINATOR_RECOMPUTE);
  c.set_log_ratio_clamp(20.0);
  c.mutable_trust_region()->set_eps_low(0.2);
  c.mutable_trust_region()->set_eps_high(0.2);
  c.mutable_kl()->set_estimator(config::KlConfig::ESTIMATOR_NONE);
  c.mutable_kl()->set_beta(0.0);
  c.mutable_rollout_correction()->set_mode(config::RolloutCorrectionConfig::MODE_NONE);
  c.mutable_rollout_correction()->set_tis_cap(2.0);  // [m1rl] verl's rollout_is_threshold default
  c.mutable_rollout_correction()->set_icepop_k(2.0);
  switch (preset) {
    case Preset::kGrpo:
      c.mutable_is_weight()->set_enabled(false);
      c.mutable_trust_region()->set_enabled(true);
      c.set_loss_agg(config::AlgorithmConfig::LOSS_AGG_SEQ_MEAN_TOKEN_MEAN);
      c.mutable_kl()->set_estimator(config::KlConfig::ESTIMATOR_K3);
      c.mutable_kl()->set_beta(0.04);
      c.mutable_dynamic_sampling()->set_enabled(false);
      c.mutable_overlong()->set_enabled(false);
      break;
    case Preset::kDapo:
      c.mutable_is_weight()->set_enabled(false);
      c.mutable_trust_region()->set_enabled(true);
      c.mutable_trust_region()->set_eps_high(0.28);
      c.set_loss_agg(config::AlgorithmConfig::LOSS_AGG_TOKEN_MEAN);
      c.mutable_dynamic_sampling()->set_enabled(true);
      c.mutable_overlong()->set_enabled(true);
      break;
    case Preset::kCispo:
      c.mutable_is_weight()->set_enabled(true);  // eps_high: no default (required)
      c.mutable_trust_region()->set_enabled(false);
      c.set_loss_agg(config::AlgorithmConfig::LOSS_AGG_TOKEN_MEAN);
      c.mutable_dynamic_sampling()->set_enabled(true);
      c.mutable_overlong()->set_enabled(true);
      break;
    case Preset::kReinforce:
      c.mutable_is_weight()->set_enabled(false);
      c.mutable_trust_region()->set_enabled(false);
      c.set_loss_agg(config::AlgorithmConfig::LOSS_AGG_SEQ_MEAN_TOKEN_MEAN);
      c.mutable_dynamic_sampling()->set_enabled(false);
      c.mutable_overlong()->set_enabled(false);
      break;
  }
  return c;
}

absl::StatusOr<ResolvedAlgorithm> ResolveAlgorithmConfig(const config::AlgorithmConfig& user,
                                                         int64_t max_new_tokens) {
  if (!user.has_preset()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "algorithm.preset is required (", EnumYamlNames(config::AlgorithmConfig::Preset_descriptor()), ")"));
  }
  if (max_new_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.max_new_tokens (the generation budget) must be >= 1, got ", max_new_tokens));
  }
  ResolvedAlgorithm out;
  out.preset = ToPreset(user.preset());
  const config::AlgorithmConfig preset = PresetConfig(out.preset);
  CollectDeviations(user, preset, "algorithm", PresetName(out.preset).c_str(), &out.deviations);
  auto merged = std::make_shared<config::AlgorithmConfig>(preset);
  merged->MergeFrom(user);
  out.config = merged;
  const config::AlgorithmConfig& c = *merged;

  // IS band (§3): eps_* are offsets from 1, max_ratio is absolute.
  const auto& is = c.is_weight();
  if (is.has_eps_high() && is.has_max_ratio()) {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm.is_weight.eps_high (", is.eps_high(), ") and algorithm.is_weight.max_ratio (",
                     is.max_ratio(),
                     ") are mutually exclusive: eps_high is relative (cap 1+eps_high), max_ratio absolute"));
  }
  if (is.has_eps_high()) M1RL_RETURN_IF_ERROR(Positive(is.eps_high(), "algorithm.is_weight.eps_high"));
  if (is.has_max_ratio()) {
    M1RL_RETURN_IF_ERROR(Finite(is.max_ratio(), "algorithm.is_weight.max_ratio"));
    if (!(is.max_ratio() > 1.0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "algorithm.is_weight.max_ratio must be > 1 (an absolute cap; r = 1 must keep w = 1), got ",
          is.max_ratio()));
    }
  }
  if (is.has_eps_low()) M1RL_RETURN_IF_ERROR(Positive(is.eps_low(), "algorithm.is_weight.eps_low"));
  PolicyLossParams& p = out.policy_loss;
  p.is_enabled = is.enabled();
  if (p.is_enabled) {
    if (!is.has_eps_high() && !is.has_max_ratio()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "algorithm.is_weight.eps_high is required when the IS band is on (preset ", PresetName(out.preset),
          "); it has no default because M1 does not publish it (m1rl's CISPO example uses 4.0, cap 5)"));
    }
    const double cap = is.has_eps_high() ? 1.0 + is.eps_high() : is.max_ratio();
    p.is_high = cap;
    out.is_bounds = is.has_eps_high() ? absl::StrCat("eps_high ", is.eps_high(), " -> cap ", cap)
                                      : absl::StrCat("max_ratio ", cap, " (= eps_high ", cap - 1.0, ")");
    if (is.has_eps_low() && is.eps_low() < 1.0) {
      p.is_low = 1.0 - is.eps_low();
      absl::StrAppend(&out.is_bounds, "; eps_low ", is.eps_low(), " -> floor ", *p.is_low);
    } else {
      absl::StrAppend(&out.is_bounds, "; no floor");
    }
  } else {
    out.is_bounds = "off (r unclipped)";
  }

  const auto& tr = c.trust_region();
  p.tr_enabled = tr.enabled();
  p.tr_eps_low = tr.eps_low();
  p.tr_eps_high = tr.eps_high();
  if (p.tr_enabled) {
    M1RL_RETURN_IF_ERROR(Positive(tr.eps_low(), "algorithm.trust_region.eps_low"));
    if (tr.eps_low() > 1.0) {
      return absl::InvalidArgumentError(
          absl::StrCat("algorithm.trust_region.eps_low must be <= 1 (r > 0), got ", tr.eps_low()));
    }
    M1RL_RETURN_IF_ERROR(Positive(tr.eps_high(), "algorithm.trust_region.eps_high"));
  }

  p.kl = ToKl(c.kl().estimator());
  M1RL_RETURN_IF_ERROR(Finite(c.kl().beta(), "algorithm.kl.beta"));
  if (c.kl().beta() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("algorithm.kl.beta must be >= 0, got ", c.kl().beta()));
  }
  if (c.kl().beta() > 0 && p.kl == KlEstimator::kNone) {
    return absl::InvalidArgumentError(absl::StrCat("algorithm.kl.beta is ", c.kl().beta(),
                                                   " but algorithm.kl.estimator is none; set k1|k2|k3"));
  }
  p.kl_beta = c.kl().beta();
  M1RL_RETURN_IF_ERROR(Positive(c.log_ratio_clamp(), "algorithm.log_ratio_clamp"));
  p.log_ratio_clamp = c.log_ratio_clamp();

  out.loss_agg = ToLossAgg(c.loss_agg());
  if (c.has_generation_budget()) {
    if (c.generation_budget() <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("algorithm.generation_budget must be > 0, got ", c.generation_budget()));
    }
    out.generation_budget = c.generation_budget();
  }
  if (out.loss_agg == LossAgg::kSeqMeanTokenSumNorm && out.generation_budget <= 0) {
    return absl::InvalidArgumentError(
        "algorithm.generation_budget (L_gen > 0) is required by algorithm.loss_agg seq_mean_token_sum_norm");
  }

  const auto& adv = c.advantage();
  out.advantage.estimator = adv.estimator() == config::AdvantageConfig::ESTIMATOR_RLOO
                                ? AdvantageEstimator::kRloo
                                : AdvantageEstimator::kGrpo;
  out.advantage.std_kind = adv.std_kind() == config::AdvantageConfig::STD_KIND_POPULATION
                               ? StdKind::kPopulation
                               : StdKind::kSample;
  out.advantage.scale_by_std = adv.scale_by_std();
  M1RL_RETURN_IF_ERROR(Finite(adv.std_eps(), "algorithm.advantage.std_eps"));
  if (adv.std_eps() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm.advantage.std_eps must be >= 0, got ", adv.std_eps()));
  }
  out.advantage.std_eps = adv.std_eps();

  const auto& ds = c.dynamic_sampling();
  out.dynamic_sampling = ds.enabled();
  if (ds.max_gen_rounds() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm.dynamic_sampling.max_gen_rounds must be >= 1, got ", ds.max_gen_rounds()));
  }
  out.max_gen_rounds = ds.max_gen_rounds();
  out.on_exhausted = ds.on_exhausted() == config::DynamicSamplingConfig::ON_EXHAUSTED_TRAIN_PARTIAL
                         ? OnExhausted::kTrainPartial
                         : OnExhausted::kError;

  M1RL_RETURN_IF_ERROR(ResolveOverlong(c.overlong(), max_new_tokens, &out));

  const auto& rep = c.repetition();
  out.repetition = rep.enabled();
  M1RL_RETURN_IF_ERROR(Finite(rep.threshold(), "algorithm.repetition.threshold"));
  if (!(rep.threshold() > 0.0 && rep.threshold() < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm.repetition.threshold must be in (0, 1), got ", rep.threshold()));
  }
  if (rep.run_length() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm.repetition.run_length must be >= 1, got ", rep.run_length()));
  }
  out.repetition_threshold = rep.threshold();
  out.repetition_run_length = rep.run_length();
  out.repetition_policy = ToRepetitionPolicy(rep.policy());
  M1RL_RETURN_IF_ERROR(Finite(rep.failure_reward(), "algorithm.repetition.failure_reward"));
  out.repetition_failure_reward = rep.failure_reward();

  out.ratio_denominator = c.ratio_denominator() == config::AlgorithmConfig::RATIO_DENOMINATOR_ROLLOUT
                              ? RatioDenominator::kRollout
                              : RatioDenominator::kRecompute;
  M1RL_RETURN_IF_ERROR(ResolveRolloutCorrection(c.rollout_correction(), &out.rollout_correction));
  out.rollout_correction.log_ratio_clamp = p.log_ratio_clamp;
  return out;
}

absl::StatusOr<ResolvedAlgorithm> ResolvePreset(std::string_view preset, int64_t max_new_tokens,
                                                std::optional<double> eps_high, std::optional<double> eps_low,
                                                std::optional<double> max_ratio) {
  config::AlgorithmConfig c;
  M1RL_ASSIGN_OR_RETURN(Preset p, ParsePreset(preset));
  c.set_preset(FromPreset(p));
  if (eps_high) c.mutable_is_weight()->set_eps_high(*eps_high);
  if (eps_low) c.mutable_is_weight()->set_eps_low(*eps_low);
  if (max_ratio) c.mutable_is_weight()->set_max_ratio(*max_ratio);
  return ResolveAlgorithmConfig(c, max_new_tokens);
}

std::string ResolvedAlgorithm::Summary() const {
  std::vector<std::string> lines;
  lines.push_back(absl::StrCat("algorithm.preset: ", PresetName(preset)));
  lines.push_back(absl::StrCat("is_weight: ", is_bounds));
  lines.push_back(policy_loss.tr_enabled ? absl::StrCat("trust_region: eps_low ", policy_loss.tr_eps_low,
                                                        " eps_high ", policy_loss.tr_eps_high)
                                         : std::string("trust_region: off"));
  lines.push_back(absl::StrCat("loss_agg: ", LossAggName(loss_agg)));
  lines.push_back(absl::StrCat("kl: ", KlEstimatorName(policy_loss.kl), " beta ", policy_loss.kl_beta,
                               needs_reference_model() ? " (reference forward)" : " (no reference forward)"));
  for (const auto& d : deviations) lines.push_back(absl::StrCat("deviates from preset: ", d));
  return absl::StrJoin(lines, "\n");
}

}  // namespace m1rl::algorithms
