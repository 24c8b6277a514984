#include "reward/service/registry.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace m1rl::reward {

absl::Status VerifierRegistry::Register(std::unique_ptr<Verifier> verifier) {
  if (verifier == nullptr) return absl::InvalidArgumentError("VerifierRegistry::Register: null verifier");
  std::string domain(verifier->domain());
  if (domain.empty())
    return absl::InvalidArgumentError("VerifierRegistry::Register: verifier has an empty domain");
  if (verifiers_.count(domain) != 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("VerifierRegistry::Register: domain '", domain, "' already registered"));
  }
  verifiers_.emplace(std::move(domain), std::move(verifier));
  return absl::OkStatus();
}

const Verifier* VerifierRegistry::Find(std::string_view domain) const {
  auto it = verifiers_.find(domain);
  if (it != verifiers_.end()) return it->second.get();
  const size_t slash = domain.find('/');
  if (slash == std::string_view::npos) return nullptr;
  it = verifiers_.find(domain.substr(0, slash));
  return it != verifiers_.end() ? it->second.get() : nullptr;
}

std::vector<std::string> VerifierRegistry::Domains() const {
  std::vector<std::string> out;
  out.reserve(verifiers_.size());
  for (const auto& [domain, verifier] : verifiers_) out.push_back(domain);
  return out;
}

namespace {

class FormatVerifier final : public Verifier {
 public:
  explicit FormatVerifier(FormatOptions options) : options_(std::move(options)) {}
  std::string_view domain() const override { return "format"; }
  std::string_view version() const override { return "format-1"; }

  VerifyOutcome Verify(const VerifyInput& input, const CheckContext& ctx) const override {
    VerifyOutcome out;
    if (ctx.Cancelled()) {
      out.status = rl::CANCELLED;
      return out;
    }
    FormatOptions options = options_;
    if (input.options.is_object() && input.options.contains("require_think")) {
      const auto& v = input.options["require_think"];
      if (!v.is_boolean()) {
        out.status = rl::INVALID_INPUT;
        out.details = "options.require_think must be a bool";
        return out;
      }
      options.require_think = v.get<bool>();
    }
    const FormatCheck check = CheckFormat(input.response, options);
    out.status = rl::OK;
    out.verdict = check.ok ? rl::CORRECT : rl::INCORRECT;
    out.correctness = check.ok ? 1.0 : 0.0;
    out.format = out.correctness;
    out.details = check.ok ? "format ok" : check.reason;
    out.normalized_pred = std::string(check.answer);
    return out;
  }

 private:
  const FormatOptions options_;
};

}  // namespace

std::unique_ptr<Verifier> NewFormatVerifier(const FormatOptions& options) {
  return std::make_unique<FormatVerifier>(options);
}

}  // namespace m1rl::reward
