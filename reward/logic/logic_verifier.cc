#include "reward/logic/logic_verifier.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "reward/logic/tasks.h"

namespace m1rl::reward {
namespace logic {

ExtractedAnswer ExtractAnswer(std::string_view response) {
  ExtractedAnswer out;
  std::string_view region = response;
  const size_t think_end = response.rfind("</think>");
  if (think_end != std::string_view::npos) {
    region = response.substr(think_end + 8);
  } else if (response.find("<think>") != std::string_view::npos) {
    out.truncated_think = true;
    return out;
  }
  constexpr std::string_view kOpen = "<answer>";
  constexpr std::string_view kClose = "</answer>";
  size_t pos = 0;
  for (;;) {
    const size_t open = region.find(kOpen, pos);
    if (open == std::string_view::npos) break;
    const size_t start = open + kOpen.size();
    const size_t close = region.find(kClose, start);
    if (close == std::string_view::npos) break;
    // A block is the text between an opening tag and the next closing tag; a nested "<answer>"
    // inside it is content (and will not parse in any family's grammar).
    ++out.num_blocks;
    out.last = std::string(region.substr(start, close - start));
    pos = close + kClose.size();
  }
  return out;
}

}  // namespace logic

namespace {

// "instance.x: ..." -> "gold.x: ..." so the message names the item field the caller sent.
std::string GoldField(const absl::Status& status) {
  const std::string message(status.message());
  constexpr std::string_view kPrefix = "instance";
  if (message.substr(0, kPrefix.size()) == kPrefix)
    return absl::StrCat("gold", message.substr(kPrefix.size()));
  return std::string(message);
}

class LogicVerifier : public Verifier {
 public:
  std::string_view domain() const override { return "logic"; }
  std::string_view version() const override { return kLogicVerifierVersion; }

  VerifyOutcome Verify(const VerifyInput& input, const CheckContext& ctx) const override {
    try {
      return VerifyImpl(input, ctx);
    } catch (const std::exception& e) {
      return VerifyOutcome::NonOk(rl::INTERNAL,
                                  absl::StrCat("logic verifier: unexpected exception: ", e.what()));
    }
  }

 private:
  VerifyOutcome VerifyImpl(const VerifyInput& input, const CheckContext& ctx) const {
    if (ctx.Cancelled()) return VerifyOutcome::NonOk(rl::CANCELLED, "cancelled before the check");
    if (ctx.Expired()) return VerifyOutcome::NonOk(rl::TIMEOUT, "deadline passed before the check");
    if (input.gold.empty())
      return VerifyOutcome::NonOk(rl::INVALID_INPUT, "gold: empty (expected the instance JSON)");
    nlohmann::json instance = nlohmann::json::parse(input.gold, nullptr, /*allow_exceptions=*/false);
    if (instance.is_discarded()) return VerifyOutcome::NonOk(rl::INVALID_INPUT, "gold: not valid JSON");
    if (!instance.is_object()) return VerifyOutcome::NonOk(rl::INVALID_INPUT, "gold: expected a JSON object");
    if (input.options.is_object()) {
      auto it = input.options.find("family");
      if (it != input.options.end()) {
        if (!it->is_string())
          return VerifyOutcome::NonOk(rl::INVALID_INPUT, "options.family: expected a string");
        auto gold_family = instance.find("family");
        if (gold_family == instance.end()) {
          instance["family"] = *it;
        } else if (*gold_family != *it) {
          return VerifyOutcome::NonOk(rl::INVALID_INPUT,
                                      absl::StrCat("options.family: '", it->get<std::string>(),
                                                   "' disagrees with gold.family ", gold_family->dump()));
        }
      }
    }

    const logic::ExtractedAnswer extracted = logic::ExtractAnswer(input.response);
    VerifyOutcome o;
    o.normalized_gold = instance.dump();
    if (extracted.num_blocks == 0) {
      // Validate the instance anyway: a malformed gold is the item's fault even with no answer.
      absl::StatusOr<logic::CheckResult> probe = logic::CheckInstance(instance, "");
      if (!probe.ok()) return VerifyOutcome::NonOk(rl::INVALID_INPUT, GoldField(probe.status()));
      o.status = rl::OK;
      o.verdict = rl::NO_ANSWER;
      o.details =
          extracted.truncated_think ? "no </think>: truncated trace" : "no <answer>...</answer> block";
      return o;
    }
    absl::StatusOr<logic::CheckResult> r = logic::CheckInstance(instance, extracted.last);
    if (!r.ok()) return VerifyOutcome::NonOk(rl::INVALID_INPUT, GoldField(r.status()));
    if (ctx.Cancelled()) return VerifyOutcome::NonOk(rl::CANCELLED, "cancelled during the check");
    if (ctx.Expired()) return VerifyOutcome::NonOk(rl::TIMEOUT, "deadline passed during the check");
    o.normalized_pred = r->normalized_answer;
    if (r->kind == logic::CheckResult::Kind::kUnparseable) {
      o.status = rl::INVALID_INPUT;
      o.details = r->reason;
      return o;
    }
    o.status = rl::OK;
    o.format = extracted.num_blocks == 1 ? 1.0 : 0.0;
    o.correctness = r->correct() ? 1.0 : 0.0;
    o.verdict = r->correct() ? rl::CORRECT : rl::INCORRECT;
    o.details = absl::StrCat(instance.value("family", std::string("?")), ": ", r->reason,
                             extracted.num_blocks > 1
                                 ? absl::StrCat(" (", extracted.num_blocks, " answer blocks: format 0)")
                                 : "");
    return o;
  }
};

}  // namespace

std::unique_ptr<Verifier> NewLogicVerifier() { return std::make_unique<LogicVerifier>(); }

}  // namespace m1rl::reward
