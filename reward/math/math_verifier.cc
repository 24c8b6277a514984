#include "reward/math/math_verifier.h"

#include <algorithm>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "reward/math/cas_pool.h"
#include "reward/math/compare.h"
#include "reward/math/extract.h"
#include "reward/math/normalize.h"
#include "reward/math/parser.h"

namespace m1rl::reward {
namespace {

using math::Decision;
using math::NodeP;

struct ItemOptions {
  math::CompareOptions compare;
  bool require_think;
  math::ExtractMode extract;
  bool boxed_form;
};

struct Parsed {
  std::string normalized;  // after NormalizeLatex, unit removed
  std::string unit;
  absl::StatusOr<NodeP> tree = absl::UnknownError("unset");
};

Parsed ParseSide(std::string_view raw, bool allow_thousands) {
  Parsed p;
  math::ValueAndUnit vu = math::SplitUnit(math::NormalizeLatex(raw));
  // A decimal comma where it cannot be a thousands separator ("3,5", "0,125"), for a scalar gold only.
  static const std::regex kDecimalComma("-?([0-9]+,[0-9]{1,2}|0,[0-9]+)");
  // Digit groups separated by single spaces ("1 234 567"), for a scalar gold only.
  static const std::regex kSpacedThousands("-?[0-9]{1,3}( [0-9]{3})+(\\.[0-9]+)?");
  // (std::regex is slow: only spans that hold a comma or a blank are matched.)
  const bool comma = vu.value.find(',') != std::string::npos, blank = vu.value.find(' ') != std::string::npos;
  if (allow_thousands && comma && std::regex_match(vu.value, kDecimalComma))
    vu.value[vu.value.find(',')] = '.';
  if (allow_thousands && blank && std::regex_match(vu.value, kSpacedThousands))
    vu.value.erase(std::remove(vu.value.begin(), vu.value.end(), ' '), vu.value.end());
  p.normalized = vu.value;
  p.unit = vu.unit;
  math::ParseOptions po;
  po.allow_thousands = allow_thousands;
  p.tree = math::ParseAnswer(p.normalized, po);
  return p;
}

// Parses the gold (a boxed gold uses its last box); the status names the gold on failure.
absl::Status ParseGold(std::string_view gold_text, Parsed* gold) {
  if (gold_text.find_first_not_of(" \t\n") == std::string_view::npos)
    return absl::InvalidArgumentError("gold is empty");
  std::string gold_raw(gold_text);
  // (Extraction and std::regex are slow: only a gold holding a box is extracted, and only one holding a
  // comma is matched.)
  if (gold_raw.find("\\boxed") != std::string::npos || gold_raw.find("\\fbox") != std::string::npos) {
    math::Extraction gx = math::ExtractAnswer(gold_raw);
    if (gx.source == math::AnswerSource::kBoxed) gold_raw = gx.answer;
  }
  static const std::regex kThousands("-?[0-9]{1,3}(,[0-9]{3})+(\\.[0-9]+)?");
  const std::string normalized = math::NormalizeLatex(gold_raw);
  *gold = ParseSide(gold_raw,
                    normalized.find(',') != std::string::npos && std::regex_match(normalized, kThousands));
  if (!gold->tree.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("gold unparseable (GOLD_UNPARSEABLE): ", gold->tree.status().message(), " in gold '",
                     std::string(gold_text.substr(0, 200)), "'"));
  return absl::OkStatus();
}

bool ScalarGold(const NodeP& g) {
  if (math::IsScalar(*g)) return true;
  return math::IsAssignment(*g) && math::IsScalar(*g->kids[1]);
}

// A gold of several values (a set, a bare list, \pm, "x = 2, 3", "x = 1, y = 2"): several boxed answers
// together form the predicted collection. Tuples, intervals and matrices are one object, never split.
bool CollectionGold(const NodeP& g) {
  const NodeP grouped = math::GroupAssignments(g);
  const math::Node& n = math::IsAssignment(*grouped) ? *grouped->kids[1] : *grouped;
  return n.kind == math::NodeKind::kList || n.kind == math::NodeKind::kSet ||
         n.kind == math::NodeKind::kPlusMinus;
}

// Several distinct boxed answers: hedging when the gold is a scalar (returns true; only the last box is
// graded), the predicted collection when the gold is one ("\boxed{2}, \boxed{3}" for {2, 3}: ex->answer
// becomes the distinct boxes joined, in order of first appearance).
bool ResolveBoxes(const NodeP& gold, math::Extraction* ex) {
  if (ex->boxed.size() <= 1) return false;  // (the common case: no parse)
  std::vector<std::string> distinct;
  for (const std::string& b : ex->boxed) {
    Parsed pb = ParseSide(b, ScalarGold(gold));
    std::string key = pb.tree.ok() ? math::Print(**pb.tree) : pb.normalized;
    if (std::find(distinct.begin(), distinct.end(), key) == distinct.end()) distinct.push_back(key);
  }
  if (distinct.size() <= 1) return false;
  if (!CollectionGold(gold)) return true;
  ex->answer = absl::StrJoin(distinct, ", ");
  return false;
}

// Stands in for the pool when it could not be created: every CAS job is an error naming why.
class FailedCasRunner : public math::CasRunner {
 public:
  explicit FailedCasRunner(std::string why) : why_(std::move(why)) {}
  math::CasResult Run(const math::CasJob&, const CheckContext&) override {
    return {math::CasResult::Kind::kError, "cas", why_};
  }

 private:
  std::string why_;
};

class MathVerifier : public Verifier {
 public:
  MathVerifier(const MathVerifierOptions& o, absl::StatusOr<std::unique_ptr<math::CasPool>> pool)
      : o_(o),
        pool_(std::move(pool)),
        failed_(pool_.ok() ? "" : absl::StrCat("no CAS workers: ", pool_.status().message())) {}

  std::string_view domain() const override { return "math"; }
  std::string_view version() const override { return kMathVerifierVersion; }

  VerifyOutcome Verify(const VerifyInput& in, const CheckContext& ctx) const override {
    checks_.fetch_add(1);
    VerifyOutcome out = VerifyImpl(in, ctx);
    if (out.status == rl::TIMEOUT) timeouts_.fetch_add(1);
    return out;
  }

  MathVerifierCounters Counters() const {
    MathVerifierCounters c;
    c.checks = checks_.load();
    c.undecided = undecided_.load();
    c.timeouts = timeouts_.load();
    c.cas_restarts = pool_.ok() ? (*pool_)->restarts() : 0;
    return c;
  }

 private:
  absl::Status ReadOptions(const nlohmann::json& j, ItemOptions* io) const {
    io->compare.rel_tolerance = o_.default_rel_tolerance;
    io->require_think = o_.default_require_think;
    io->extract = o_.default_extract;
    io->boxed_form = true;
    if (j.is_null()) return absl::OkStatus();
    if (!j.is_object()) return absl::InvalidArgumentError("options must be a JSON object");
    if (j.contains("rel_tolerance") && j.contains("decimal_places"))
      return absl::InvalidArgumentError("options: set one of rel_tolerance and decimal_places, not both");
    for (auto it = j.begin(); it != j.end(); ++it) {
      M1RL_RETURN_IF_ERROR(ReadOption(it.key(), it.value(), io));
    }
    return absl::OkStatus();
  }

  static absl::Status ReadOption(const std::string& k, const nlohmann::json& v, ItemOptions* io) {
    auto bad = [&](const char* want) {
      return absl::InvalidArgumentError(absl::StrCat("options.", k, " must be ", want, ", got ", v.dump()));
    };
    if (k == "rel_tolerance") {
      if (!v.is_number() || v.get<double>() < 0 || v.get<double>() >= 1) return bad("a number in [0, 1)");
      if (v.get<double>() > 0) io->compare.rel_tolerance = v.get<double>();
    } else if (k == "decimal_places") {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > math::kMaxDecimalPlaces)
        return bad("an integer in [0, 15]");
      io->compare.decimal_places = static_cast<int>(v.get<int64_t>());
    } else if (k == "ordered_lists" || k == "require_think") {
      if (!v.is_boolean()) return bad("a bool");
      (k == "ordered_lists" ? io->compare.ordered_lists : io->require_think) = v.get<bool>();
    } else if (k == "extract") {
      if (!v.is_string() || (v != "rl" && v != "eval")) return bad("\"rl\" or \"eval\"");
      io->extract = v == "eval" ? math::ExtractMode::kEval : math::ExtractMode::kRl;
    } else if (k == "answer_form") {
      if (!v.is_string() || (v != "boxed" && v != "any")) return bad("\"boxed\" or \"any\"");
      io->boxed_form = v == "boxed";
    } else {
      return absl::InvalidArgumentError("options." + k + " is not a math verifier option");
    }
    return absl::OkStatus();
  }

  static VerifyOutcome Status(rl::ItemStatus s, std::string details) {
    VerifyOutcome o;
    o.status = s;
    o.details = std::move(details);
    return o;
  }

  VerifyOutcome VerifyImpl(const VerifyInput& in, const CheckContext& ctx) const {
    if (ctx.Cancelled()) return Status(rl::CANCELLED, "cancelled before the check");
    if (ctx.Expired()) return Status(rl::TIMEOUT, "deadline passed before the check");
    ItemOptions io;
    if (absl::Status s = ReadOptions(in.options, &io); !s.ok())
      return Status(rl::INVALID_INPUT, std::string{s.message()});

    Parsed gold;
    if (absl::Status s = ParseGold(in.gold, &gold); !s.ok())
      return Status(rl::INVALID_INPUT, std::string{s.message()});
    VerifyOutcome out;
    out.status = rl::OK;
    out.normalized_gold = math::Print(**gold.tree);

    math::ExtractOptions eo;
    eo.mode = io.extract;
    math::Extraction ex = math::ExtractAnswer(in.response, eo);
    const bool hedging = ResolveBoxes(*gold.tree, &ex);
    bool form_ok =
        io.boxed_form ? ex.source == math::AnswerSource::kBoxed : ex.source != math::AnswerSource::kNone;
    bool think_ok = !io.require_think || ex.think_block_first;
    out.format = form_ok && !hedging && think_ok ? 1.0 : 0.0;
    std::string src =
        absl::StrCat(" source=", math::AnswerSourceName(ex.source), hedging ? " hedging=1" : "");

    auto verdict = [&](rl::Verdict v, const std::string& layer, const std::string& reason) {
      out.verdict = v;
      out.correctness = v == rl::CORRECT ? 1.0 : 0.0;
      out.details = absl::StrCat("layer=", layer, " reason=", reason, src);
      return out;
    };
    if (ex.truncated) {
      out.format = 0;
      return verdict(rl::NO_ANSWER, "extract", "truncated: <think> never closed");
    }
    if (ex.source == math::AnswerSource::kNone) return verdict(rl::NO_ANSWER, "extract", "no answer found");

    Parsed pred = ParseSide(ex.answer, ScalarGold(*gold.tree));
    out.normalized_pred = pred.tree.ok() ? math::Print(**pred.tree) : pred.normalized;
    if (!pred.unit.empty() && !gold.unit.empty() && pred.unit != gold.unit)
      return verdict(rl::INCORRECT, "units", "units differ: " + gold.unit + " vs " + pred.unit);
    if (pred.normalized == gold.normalized) return verdict(rl::CORRECT, "string", "normalised strings equal");
    if (!pred.tree.ok()) {
      bool complex = absl::IsResourceExhausted(pred.tree.status());
      return verdict(rl::INCORRECT, complex ? "too_complex" : "parse",
                     absl::StrCat(complex ? "" : "pred_unparseable: ", pred.tree.status().message()));
    }
    const math::CompareOptions& co = io.compare;
    CheckContext cas_ctx = ctx;
    cas_ctx.deadline = std::min(ctx.deadline, Clock::now() + std::chrono::milliseconds(o_.cas_timeout_ms));
    math::CasRunner* cas = pool_.ok() ? static_cast<math::CasRunner*>(pool_->get()) : &failed_;
    Decision d = math::CompareAnswers(*gold.tree, *pred.tree, co, cas, cas_ctx);
    switch (d.kind) {
      case Decision::Kind::kEqual:
        return verdict(rl::CORRECT, d.layer, d.reason);
      case Decision::Kind::kUnequal:
        return verdict(rl::INCORRECT, d.layer, d.reason);
      case Decision::Kind::kTooComplex:
        return verdict(rl::INCORRECT, "too_complex", d.reason);
      case Decision::Kind::kUndecided:
        undecided_.fetch_add(1);
        return verdict(rl::INCORRECT, "undecided", d.layer + ": " + d.reason + " (suspected false negative)");
      case Decision::Kind::kTimeout:
        return Status(rl::TIMEOUT, "layer=" + d.layer + " reason=" + d.reason);
      case Decision::Kind::kCancelled:
        return Status(rl::CANCELLED, "layer=" + d.layer + " reason=" + d.reason);
      case Decision::Kind::kError:
        return Status(rl::INTERNAL, "layer=" + d.layer + " reason=" + d.reason);
    }
    return Status(rl::INTERNAL, "unknown decision");
  }

  MathVerifierOptions o_;
  absl::StatusOr<std::unique_ptr<math::CasPool>> pool_;
  mutable FailedCasRunner failed_;
  mutable std::atomic<int64_t> checks_{0}, undecided_{0}, timeouts_{0};
};

}  // namespace

std::unique_ptr<Verifier> NewMathVerifier(const MathVerifierOptions& options) {
  math::CasPool::Options po;
  po.num_workers = options.cas_workers != 0
                       ? options.cas_workers
                       : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  po.memory_limit_mb = options.cas_memory_limit_mb;
  return std::make_unique<MathVerifier>(options, math::CasPool::Create(po));
}

absl::Status CheckMathGold(std::string_view gold) {
  Parsed parsed;
  return ParseGold(gold, &parsed);
}

MathVerifierCounters GetMathVerifierCounters(const Verifier& v) {
  if (const auto* m = dynamic_cast<const MathVerifier*>(&v)) return m->Counters();
  return {};
}

}  // namespace m1rl::reward
