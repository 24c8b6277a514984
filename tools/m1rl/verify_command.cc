// `m1rl verify`: scores answers with the default verifiers, without a server; how a user debugs a
// reward. One answer (--gold/--pred) prints a readable report and exits 0 if CORRECT, 1 if
// INCORRECT/NO_ANSWER, 3 for a non-OK status. A batch (--jsonl FILE; one object per line with "gold",
// "pred", optional "domain", "prompt" and "options") prints one JSON object per line and exits 0 when
// the file was read (per-line problems are reported as INVALID_INPUT lines and counted on stderr).
// Math options (--options or a row's "options"): rel_tolerance | decimal_places, ordered_lists, extract
// ("rl" | "eval"; --extract sets it for every math item that does not).
#include <fstream>
#include <iostream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/cli.h"
#include "common/flags.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "reward/service/registry.h"
#include "reward/service/scoring.h"

namespace m1rl::reward {
namespace {

// Parses an extraction mode ("rl" | "eval") into the MathPayload enum.
absl::StatusOr<rl::MathExtract> ParseExtract(const nlohmann::json& v, const std::string& what) {
  if (v == "rl") return rl::MATH_EXTRACT_RL;
  if (v == "eval") return rl::MATH_EXTRACT_EVAL;
  return absl::InvalidArgumentError(absl::StrCat(what, " must be \"rl\" or \"eval\", got ", v.dump()));
}

// Builds the ScoreItem for `domain` (math -> MathPayload, logic -> LogicPayload, else gold).
// options: rel_tolerance, decimal_places, ordered_lists, extract (math), require_think (bool), family
// (logic); kInvalidArgument naming the key. The math verifier validates the values' ranges.
// `default_extract` (--extract) applies to math items whose options do not name one.
absl::StatusOr<rl::ScoreItem> MakeItem(const std::string& domain, const std::string& prompt,
                                       const std::string& pred, const nlohmann::json& gold,
                                       const nlohmann::json& options, rl::MathExtract default_extract) {
  rl::ScoreItem item;
  item.set_domain(domain);
  item.set_prompt(prompt);
  item.set_response(pred);
  if (!options.is_object()) return absl::InvalidArgumentError("options must be a JSON object");
  for (const auto& [key, value] : options.items()) {
    if (key == "require_think") {
      if (!value.is_boolean()) return absl::InvalidArgumentError("options.require_think must be a bool");
      item.set_require_think(value.get<bool>());
    } else if (key == "rel_tolerance") {
      if (!value.is_number()) return absl::InvalidArgumentError("options.rel_tolerance must be a number");
    } else if (key == "decimal_places") {
      if (!value.is_number_integer())
        return absl::InvalidArgumentError("options.decimal_places must be an integer");
    } else if (key == "ordered_lists") {
      if (!value.is_boolean()) return absl::InvalidArgumentError("options.ordered_lists must be a bool");
    } else if (key == "extract") {
      M1RL_RETURN_IF_ERROR(ParseExtract(value, "options.extract").status());
    } else if (key == "family") {
      if (!value.is_string()) return absl::InvalidArgumentError("options.family must be a string");
    } else {
      return absl::InvalidArgumentError(absl::StrCat("options.", key,
                                                     ": unknown option (known: require_think, "
                                                     "rel_tolerance, decimal_places, ordered_lists, extract, "
                                                     "family)"));
    }
  }
  const std::string gold_text = gold.is_string() ? gold.get<std::string>() : gold.dump();
  if (domain == "math") {
    rl::MathPayload& math = *item.mutable_math();
    math.set_gold(gold_text);
    if (options.contains("rel_tolerance")) math.set_rel_tolerance(options["rel_tolerance"].get<double>());
    if (options.contains("decimal_places")) {
      const int64_t places = options["decimal_places"].get<int64_t>();
      if (places < INT32_MIN || places > INT32_MAX)
        return absl::InvalidArgumentError("options.decimal_places is out of range");
      math.set_decimal_places(static_cast<int32_t>(places));
    }
    if (options.contains("ordered_lists")) math.set_ordered_lists(options["ordered_lists"].get<bool>());
    math.set_extract(default_extract);
    if (options.contains("extract")) math.set_extract(*ParseExtract(options["extract"], "options.extract"));
  } else if (domain == "logic" || domain.rfind("logic/", 0) == 0) {
    item.mutable_logic()->set_instance_json(gold_text);
    if (options.contains("family")) {
      item.mutable_logic()->set_family(options["family"].get<std::string>());
    } else if (domain.size() > 6) {
      item.mutable_logic()->set_family(domain.substr(6));
    }
  } else {
    item.set_gold(gold_text);
  }
  return item;
}

nlohmann::ordered_json ResultJson(const rl::ScoreResult& r) {
  nlohmann::ordered_json j;
  j["status"] = rl::ItemStatus_Name(r.status());
  j["verdict"] = rl::Verdict_Name(r.verdict());
  j["correctness"] = r.components().correctness();
  j["format"] = r.components().format();
  j["total"] = r.total();
  j["normalized_gold"] = r.normalized_gold();
  j["normalized_pred"] = r.normalized_pred();
  j["details"] = r.details();
  j["verifier_version"] = r.verifier_version();
  j["run_ms"] = r.run_ms();
  return j;
}

// The registry, rules and per-check budget every item of one `m1rl verify` run is scored with.
struct Scorer {
  std::unique_ptr<VerifierRegistry> registry;
  ScoringRules rules;
  int64_t timeout_ms = 10000;

  rl::ScoreResult operator()(const rl::ScoreItem& item) const {
    CheckContext ctx;
    ctx.deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    return ScoreItemNow(*registry, rules, item, ctx);
  }
};

// One item from the flags: prints the result; exit 0 CORRECT, 1 otherwise, 3 not OK, 2 bad input.
int VerifyOne(const Scorer& score, const std::string& domain, const std::string& prompt,
              const std::string& pred, const std::string& gold, const std::string& options_json,
              rl::MathExtract default_extract) {
  nlohmann::json options = nlohmann::json::parse(options_json, nullptr, /*allow_exceptions=*/false);
  if (options.is_discarded()) {
    std::cerr << "m1rl verify: --options is not valid JSON: " << options_json << "\n";
    return 2;
  }
  auto item = MakeItem(domain, prompt, pred, gold, options, default_extract);
  if (!item.ok()) {
    std::cerr << "m1rl verify: " << item.status().message() << "\n";
    return 2;
  }
  const rl::ScoreResult r = score(*item);
  std::cout << "status: " << rl::ItemStatus_Name(r.status()) << "\nverdict: " << rl::Verdict_Name(r.verdict())
            << "\ncorrectness: " << r.components().correctness() << "\nformat: " << r.components().format()
            << "\ntotal: " << r.total() << "\nnormalized_gold: " << r.normalized_gold()
            << "\nnormalized_pred: " << r.normalized_pred() << "\ndetails: " << r.details()
            << "\nverifier: " << r.verifier_version() << " (" << r.run_ms() << " ms)\n";
  if (r.status() != rl::OK) return 3;
  return r.verdict() == rl::CORRECT ? 0 : 1;
}

// The item of one --jsonl row, or why the row is not one.
absl::StatusOr<rl::ScoreItem> RowItem(const std::string& line, const std::string& domain,
                                      rl::MathExtract default_extract) {
  nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (row.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  if (!row.is_object()) return absl::InvalidArgumentError("not a JSON object");
  if (!row.contains("gold") || !row.contains("pred") || !row["pred"].is_string())
    return absl::InvalidArgumentError("needs \"gold\" and a string \"pred\"");
  nlohmann::json options = row.value("options", nlohmann::json::object());
  return MakeItem(row.value("domain", domain), row.value("prompt", std::string()),
                  row["pred"].get<std::string>(), row["gold"], options, default_extract);
}

// A --jsonl batch: one JSON result per line on stdout, the verdict/status counts on stderr.
int VerifyJsonl(const Scorer& score, const std::string& jsonl, const std::string& domain,
                rl::MathExtract default_extract) {
  std::ifstream in(jsonl);
  if (!in) {
    std::cerr << "m1rl verify: cannot open --jsonl " << jsonl << "\n";
    return 2;
  }
  std::map<std::string, int64_t> counts;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::ordered_json out;
    out["line"] = line_no;
    const absl::StatusOr<rl::ScoreItem> item = RowItem(line, domain, default_extract);
    if (!item.ok()) {
      out["status"] = "INVALID_INPUT";
      out["details"] = absl::StrCat(jsonl, ":", line_no, ": ", item.status().message());
      ++counts["INVALID_INPUT"];
    } else {
      const rl::ScoreResult r = score(*item);
      const nlohmann::ordered_json fields = ResultJson(r);
      for (const auto& [key, value] : fields.items()) out[key] = value;
      ++counts[r.status() == rl::OK ? rl::Verdict_Name(r.verdict()) : rl::ItemStatus_Name(r.status())];
    }
    std::cout << out.dump() << "\n";
  }
  std::cerr << "m1rl verify: " << jsonl;
  for (const auto& [what, n] : counts) std::cerr << " " << what << "=" << n;
  std::cerr << "\n";
  return 0;
}

int RunVerify(const std::vector<std::string>& args) {
  std::string domain = "math";
  std::string gold;
  std::string pred;
  std::string prompt;
  std::string jsonl;
  std::string options_json = "{}";
  std::string extract;
  Scorer score;
  FlagSet flags("m1rl verify",
                "Scores an answer (or a JSONL batch) with the reward verifiers, without a server.");
  flags.AddString("domain", &domain, "math | logic | logic/<family> | format");
  flags.AddString("gold", &gold, "reference answer (logic: the instance JSON)");
  flags.AddString("pred", &pred, "the model's full response");
  flags.AddString("prompt", &prompt, "the prompt (optional)");
  flags.AddString(
      "options", &options_json,
      "JSON object: rel_tolerance, decimal_places, ordered_lists, extract, require_think, family");
  flags.AddString("extract", &extract,
                  "math answer extraction, rl | eval (eval also takes the last bare expression); a row's "
                  "options.extract wins; default: the verifier's (rl)");
  flags.AddString("jsonl", &jsonl,
                  "batch file: one {\"gold\",\"pred\"[,\"domain\",\"prompt\",\"options\"]} per line");
  flags.AddBool("require-think", &score.rules.format.require_think,
                "format: require <think>...</think> before the answer");
  flags.AddInt("timeout-ms", &score.timeout_ms, "per-check budget; past it the check is abandoned (TIMEOUT)");
  flags.AddDouble("correctness-weight", &score.rules.correctness_weight,
                  "total = wc*correctness + wf*format");
  flags.AddDouble("format-weight", &score.rules.format_weight, "weight of the format component");
  if (std::optional<int> exit_code = flags.ParseForCommand(args)) return *exit_code;
  if (jsonl.empty() && (!flags.IsSet("gold") || !flags.IsSet("pred"))) {
    std::cerr << "m1rl verify: give --gold and --pred, or --jsonl FILE\n" << flags.Usage();
    return 2;
  }
  rl::MathExtract default_extract = rl::MATH_EXTRACT_DEFAULT;
  if (!extract.empty()) {
    absl::StatusOr<rl::MathExtract> e = ParseExtract(extract, "--extract");
    if (!e.ok()) {
      std::cerr << "m1rl verify: " << e.status().message() << "\n";
      return 2;
    }
    default_extract = *e;
  }
  if (score.timeout_ms <= 0) {
    std::cerr << "m1rl verify: --timeout-ms must be > 0, got " << score.timeout_ms << "\n";
    return 2;
  }
  score.registry = DefaultVerifierRegistry();
  if (jsonl.empty()) return VerifyOne(score, domain, prompt, pred, gold, options_json, default_extract);
  return VerifyJsonl(score, jsonl, domain, default_extract);
}

}  // namespace
}  // namespace m1rl::reward

M1RL_REGISTER_COMMAND(verify, "verify", "score an answer or a JSONL batch without a server (debug rewards)",
                      m1rl::reward::RunVerify);
