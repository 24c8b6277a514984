#include "reward/genrm/general_verifier.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "reward/genrm/constraints.h"

namespace m1rl::reward {
namespace {

rl::ItemStatus StatusFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return rl::JUDGE_ERROR;  // GenRm: no parseable verdict
    case absl::StatusCode::kDeadlineExceeded:
      return rl::TIMEOUT;
    case absl::StatusCode::kCancelled:
      return rl::CANCELLED;
    default:
      return rl::INFRA_ERROR;
  }
}

class GeneralVerifier : public Verifier {
 public:
  explicit GeneralVerifier(std::shared_ptr<const genrm::GenRm> genrm) : genrm_(std::move(genrm)) {
    M1RL_CHECK(genrm_ != nullptr);
  }
  std::string_view domain() const override { return "general"; }
  std::string_view version() const override { return genrm_->version(); }

  VerifyOutcome Verify(const VerifyInput& input, const CheckContext& ctx) const override {
    std::string reference;
    if (auto it = input.options.find("reference"); it != input.options.end() && it->is_string()) {
      reference = it->get<std::string>();
    }
    if (input.gold.empty() == reference.empty()) {
      return VerifyOutcome::NonOk(
          rl::INVALID_INPUT, input.gold.empty() ? "item.general: needs a ground_truth or a reference"
                                                : "item.general: ground_truth and reference are exclusive");
    }
    std::string_view answer = input.response;
    size_t close = answer.rfind("</think>");
    if (close != std::string_view::npos) {
      answer.remove_prefix(close + 8);
    } else if (answer.find("<think>") != std::string_view::npos) {
      return NoAnswer("truncated: <think> without </think>");
    }
    std::vector<genrm::Constraint> constraints;
    if (auto it = input.options.find("constraints"); it != input.options.end()) {
      std::vector<std::string> specs;
      for (const nlohmann::json& c : it->is_array() ? *it : nlohmann::json::array({nullptr})) {
        if (!c.is_string()) {
          return VerifyOutcome::NonOk(rl::INVALID_INPUT, "item.general.constraints must be strings");
        }
        specs.push_back(c.get<std::string>());
      }
      absl::StatusOr<std::vector<genrm::Constraint>> parsed =
          genrm::ParseConstraints(specs, "item.general.constraints");
      if (!parsed.ok())
        return VerifyOutcome::NonOk(rl::INVALID_INPUT, absl::StrCat(parsed.status().message()));
      constraints = std::move(*parsed);
    }
    std::string final_segment(absl::StripAsciiWhitespace(std::string(answer)));
    if (final_segment.empty()) return NoAnswer("empty final answer");
    if (std::optional<std::string> violated = genrm::FirstViolation(constraints, final_segment)) {
      VerifyOutcome o;
      o.status = rl::OK;
      o.verdict = rl::INCORRECT;
      o.correctness = input.gold.empty() ? -1.0 : genrm_->options().reward_min;
      o.format = 1.0;
      o.details = absl::StrCat("constraint failed: ", *violated);
      return o;
    }
    return input.gold.empty() ? Pairwise(input.prompt, final_segment, reference, ctx)
                              : Grade(input.prompt, input.gold, final_segment, ctx);
  }

 private:
  static VerifyOutcome NoAnswer(std::string why) {
    VerifyOutcome o;
    o.status = rl::OK;
    o.verdict = rl::NO_ANSWER;
    o.details = std::move(why);
    return o;
  }

  VerifyOutcome Grade(const std::string& question, const std::string& gold, const std::string& answer,
                      const CheckContext& ctx) const {
    absl::StatusOr<genrm::GradeResult> g = genrm_->Grade(question, gold, answer, ctx);
    if (!g.ok()) return VerifyOutcome::NonOk(StatusFor(g.status()), absl::StrCat(g.status().message()));
    VerifyOutcome o;
    o.status = rl::OK;
    o.verdict = g->grade >= 4 ? rl::CORRECT : rl::INCORRECT;
    o.correctness = g->reward;
    o.format = 1.0;
    o.details = absl::StrCat("grade ", g->grade, " (", g->judge_calls, " judge calls)");
    return o;
  }

  VerifyOutcome Pairwise(const std::string& question, const std::string& answer, const std::string& reference,
                         const CheckContext& ctx) const {
    absl::StatusOr<genrm::PairwiseResult> p = genrm_->Compare(question, answer, reference, ctx);
    if (!p.ok()) return VerifyOutcome::NonOk(StatusFor(p.status()), absl::StrCat(p.status().message()));
    VerifyOutcome o;
    o.status = rl::OK;
    o.verdict = p->score.score > 0 ? rl::CORRECT : rl::INCORRECT;
    o.correctness = p->score.score;
    o.format = 1.0;
    o.details = absl::StrCat("pairwise ", p->score.score > 0 ? "+" : "", p->score.score,
                             " (candidate first: ", genrm::PairVerdictName(p->candidate_first),
                             ", reference first: ", genrm::PairVerdictName(p->reference_first), ")",
                             p->score.disagreement ? " disagreement" : "");
    return o;
  }

  std::shared_ptr<const genrm::GenRm> genrm_;
};

}  // namespace

std::unique_ptr<Verifier> NewGeneralVerifier(std::shared_ptr<const genrm::GenRm> genrm) {
  return std::make_unique<GeneralVerifier>(std::move(genrm));
}

}  // namespace m1rl::reward
