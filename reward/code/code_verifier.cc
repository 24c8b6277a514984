#include "reward/code/code_verifier.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"

namespace m1rl::reward {
namespace code {

ExtractedCode ExtractCode(std::string_view response) {
  ExtractedCode out;
  std::string_view region = response;
  if (const size_t think_end = response.rfind("</think>"); think_end != std::string_view::npos) {
    region = response.substr(think_end + 8);
  } else if (response.find("<think>") != std::string_view::npos) {
    return out;  // truncated reasoning: nothing after it is an answer
  }
  constexpr std::string_view kFence = "```";
  size_t pos = 0;
  for (;;) {
    const size_t open = region.find(kFence, pos);
    if (open == std::string_view::npos) break;
    const size_t line_end = region.find('\n', open);  // the rest of the opening line is the language tag
    if (line_end == std::string_view::npos) break;
    const size_t close = region.find(kFence, line_end + 1);
    if (close == std::string_view::npos) break;
    out.found = true;
    out.source = std::string(region.substr(line_end + 1, close - line_end - 1));
    pos = close + kFence.size();
  }
  return out;
}

}  // namespace code

namespace {

class CodeVerifier : public Verifier {
 public:
  CodeVerifier(std::shared_ptr<sandbox::SandboxPool> pool, code::CodeOptions options)
      : pool_(std::move(pool)), options_(std::move(options)) {}
  std::string_view domain() const override { return "code"; }
  std::string_view version() const override { return kCodeVerifierVersion; }

  VerifyOutcome Verify(const VerifyInput& input, const CheckContext& ctx) const override {
    try {
      return VerifyImpl(input, ctx);
    } catch (const std::exception& e) {
      return VerifyOutcome::NonOk(rl::INTERNAL,
                                  absl::StrCat("code verifier: unexpected exception: ", e.what()));
    }
  }

 private:
  VerifyOutcome VerifyImpl(const VerifyInput& input, const CheckContext& ctx) const {
    if (ctx.Cancelled()) return VerifyOutcome::NonOk(rl::CANCELLED, "cancelled before the run");
    if (ctx.Expired()) return VerifyOutcome::NonOk(rl::TIMEOUT, "deadline passed before the run");
    if (input.item == nullptr || input.item->payload_case() != rl::ScoreItem::kCode)
      return VerifyOutcome::NonOk(rl::INVALID_INPUT, "item.code: missing (domain code needs a CodePayload)");
    const rl::CodePayload& payload = input.item->code();
    if (absl::Status s = code::ValidateCodePayload(payload); !s.ok())
      return VerifyOutcome::NonOk(rl::INVALID_INPUT, std::string{s.message()});
    const code::ExtractedCode program = code::ExtractCode(input.response);
    VerifyOutcome out;
    out.status = rl::OK;
    if (!program.found) {
      out.verdict = rl::NO_ANSWER;
      out.details = "no complete ``` code block after the reasoning";
      return out;
    }
    const code::CodeReport report = code::RunCode(*pool_, options_, payload, program.source, ctx);
    if (report.status != rl::OK) return VerifyOutcome::NonOk(report.status, report.error);
    const int accepted = report.NumAccepted();
    const bool all = accepted == static_cast<int>(report.tests.size());
    out.verdict = all ? rl::CORRECT : rl::INCORRECT;
    out.correctness = all                       ? 1.0
                      : options_.partial_credit ? static_cast<double>(accepted) / report.tests.size()
                                                : 0.0;
    out.details = report.Summary();
    return out;
  }

  const std::shared_ptr<sandbox::SandboxPool> pool_;
  const code::CodeOptions options_;
};

}  // namespace

std::unique_ptr<Verifier> NewCodeVerifier(std::shared_ptr<sandbox::SandboxPool> pool,
                                          code::CodeOptions options) {
  return std::make_unique<CodeVerifier>(std::move(pool), std::move(options));
}

}  // namespace m1rl::reward
