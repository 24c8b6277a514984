#include "reward/service/scoring.h"

#include <chrono>
#include <exception>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace m1rl::reward {
namespace {

void AppendField(std::string& buf, std::string_view field) {
  // 8-byte little-endian length prefix: no two field sequences serialize to the same bytes.
  uint64_t n = field.size();
  for (int i = 0; i < 8; ++i) buf.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  buf.append(field);
}

bool ItemRequiresThink(const rl::ScoreItem& item) {
  return item.require_think() || (item.payload_case() == rl::ScoreItem::kMath && item.math().require_think());
}

}  // namespace

absl::StatusOr<VerifyInput> ToVerifyInput(const rl::ScoreItem& item) {
  if (item.domain().empty()) return absl::InvalidArgumentError("item.domain is empty");
  VerifyInput in;
  in.domain = item.domain();
  in.prompt = item.prompt();
  in.response = item.response();
  in.item = &item;
  switch (item.payload_case()) {
    case rl::ScoreItem::kMath:
      if (item.math().gold().empty()) return absl::InvalidArgumentError("item.math.gold is empty");
      if (!(item.math().rel_tolerance() >= 0.0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("item.math.rel_tolerance must be >= 0, got ", item.math().rel_tolerance()));
      }
      in.gold = item.math().gold();
      // Passed through as verifier options; the math verifier validates them (ranges, combinations).
      if (item.math().rel_tolerance() > 0.0) in.options["rel_tolerance"] = item.math().rel_tolerance();
      if (item.math().has_decimal_places()) in.options["decimal_places"] = item.math().decimal_places();
      if (item.math().ordered_lists()) in.options["ordered_lists"] = true;
      if (item.math().extract() == rl::MATH_EXTRACT_RL) in.options["extract"] = "rl";
      if (item.math().extract() == rl::MATH_EXTRACT_EVAL) in.options["extract"] = "eval";
      break;
    case rl::ScoreItem::kLogic:
      if (item.logic().instance_json().empty())
        return absl::InvalidArgumentError("item.logic.instance_json is empty");
      in.gold = item.logic().instance_json();
      if (!item.logic().family().empty()) in.options["family"] = item.logic().family();
      break;
    case rl::ScoreItem::kGold:
      in.gold = item.gold();
      break;
    case rl::ScoreItem::kGeneral:
      // Domain "general" (reward/genrm): a ground truth is graded against, a reference compared with.
      in.gold = item.general().ground_truth();
      if (!item.general().reference().empty()) in.options["reference"] = item.general().reference();
      if (item.general().constraints_size() > 0) {
        in.options["constraints"] = std::vector<std::string>(item.general().constraints().begin(),
                                                             item.general().constraints().end());
      }
      break;
    // Nothing to map: code and swe are structured (their verifiers read and validate item.code /
    // item.swe through in.item), and domains without ground truth ("format") accept an empty payload.
    case rl::ScoreItem::kCode:
    case rl::ScoreItem::kSwe:
    case rl::ScoreItem::PAYLOAD_NOT_SET:
      break;
  }
  if (ItemRequiresThink(item)) in.options["require_think"] = true;
  return in;
}

std::string DeriveIdempotencyKey(const rl::ScoreItem& item, std::string_view verifier_version) {
  std::string buf;
  AppendField(buf, "m1rl-score-v1");
  AppendField(buf, item.domain());
  AppendField(buf, item.prompt());
  AppendField(buf, item.response());
  AppendField(buf, std::to_string(static_cast<int>(item.payload_case())));
  switch (item.payload_case()) {
    case rl::ScoreItem::kMath:
      AppendField(buf, item.math().gold());
      AppendField(buf, absl::StrCat(item.math().rel_tolerance()));
      AppendField(buf, absl::StrCat(item.math().extract()));
      AppendField(buf, item.math().has_decimal_places() ? absl::StrCat(item.math().decimal_places()) : "-");
      AppendField(buf, item.math().ordered_lists() ? "ordered" : "");
      break;
    case rl::ScoreItem::kLogic:
      AppendField(buf, item.logic().family());
      AppendField(buf, item.logic().instance_json());
      break;
    case rl::ScoreItem::kGold:
      AppendField(buf, item.gold());
      break;
    case rl::ScoreItem::kGeneral:
      AppendField(buf, item.general().ground_truth());
      AppendField(buf, item.general().reference());
      for (const std::string& c : item.general().constraints()) AppendField(buf, c);
      break;
    case rl::ScoreItem::kCode:
    case rl::ScoreItem::kSwe: {
      std::string bytes;
      google::protobuf::io::StringOutputStream stream(&bytes);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      if (item.has_code()) {
        item.code().SerializeToCodedStream(&coded);
      } else {
        item.swe().SerializeToCodedStream(&coded);
      }
      coded.Trim();
      AppendField(buf, bytes);
      break;
    }
    case rl::ScoreItem::PAYLOAD_NOT_SET:
      break;
  }
  AppendField(buf, ItemRequiresThink(item) ? "think" : "");
  AppendField(buf, verifier_version);
  return Sha256Hex(buf);
}

bool IsCacheable(rl::ItemStatus status) { return status == rl::OK || status == rl::INVALID_INPUT; }

bool IsRetryable(rl::ItemStatus status) {
  return status == rl::INTERNAL || status == rl::INFRA_ERROR || status == rl::RESOURCE_EXHAUSTED ||
         status == rl::CANCELLED;
}

rl::ScoreResult ScoreItemNow(const VerifierRegistry& registry, const ScoringRules& rules,
                             const rl::ScoreItem& item, const CheckContext& ctx) {
  const auto start = Clock::now();
  rl::ScoreResult result;
  result.set_item_id(item.item_id());
  auto finish = [&](rl::ScoreResult& r) {
    r.set_run_ms(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    r.set_retryable(IsRetryable(r.status()));
    return r;
  };
  absl::StatusOr<VerifyInput> input = ToVerifyInput(item);
  if (!input.ok()) {
    result.set_status(rl::INVALID_INPUT);
    result.set_details(std::string{input.status().message()});
    return finish(result);
  }
  const Verifier* verifier = registry.Find(item.domain());
  if (verifier == nullptr) {
    std::string known;
    for (const std::string& d : registry.Domains()) absl::StrAppend(&known, known.empty() ? "" : ", ", d);
    result.set_status(rl::INVALID_INPUT);
    result.set_details(
        absl::StrCat("item.domain: unknown domain '", item.domain(), "' (known: ", known, ")"));
    return finish(result);
  }
  result.set_verifier_version(std::string(verifier->version()));
  // The verifier sees the effective format rule (the "format" domain scores exactly this).
  if (rules.format.require_think) input->options["require_think"] = true;
  VerifyOutcome outcome;
  try {
    outcome = verifier->Verify(*input, ctx);
  } catch (const std::exception& e) {
    outcome = VerifyOutcome{};
    outcome.status = rl::INTERNAL;
    outcome.details = absl::StrCat("verifier '", std::string(verifier->domain()), "' threw: ", e.what());
  } catch (...) {
    outcome = VerifyOutcome{};
    outcome.status = rl::INTERNAL;
    outcome.details =
        absl::StrCat("verifier '", std::string(verifier->domain()), "' threw a non-std exception");
  }
  if (outcome.status == rl::ITEM_STATUS_UNSPECIFIED) {
    outcome.status = rl::INTERNAL;
    outcome.details = absl::StrCat("verifier '", std::string(verifier->domain()), "' returned no status");
  }
  result.set_status(outcome.status);
  std::string details = outcome.details;
  if (outcome.status == rl::OK) {
    FormatOptions format = rules.format;
    if (input->options.contains("require_think")) format.require_think = true;
    const FormatCheck check = CheckFormat(item.response(), format);
    const double fmt = check.ok ? 1.0 : 0.0;
    result.set_verdict(outcome.verdict);
    result.mutable_components()->set_correctness(outcome.correctness);
    result.mutable_components()->set_format(fmt);
    result.set_total(rules.correctness_weight * outcome.correctness + rules.format_weight * fmt +
                     result.components().penalty());
    if (!check.ok && details.find(check.reason) == std::string::npos) {
      absl::StrAppend(&details, details.empty() ? "" : "; ", "format: ", check.reason);
    }
  }
  result.set_normalized_gold(outcome.normalized_gold);
  result.set_normalized_pred(outcome.normalized_pred);
  result.set_details(std::move(details));
  return finish(result);
}

}  // namespace m1rl::reward
