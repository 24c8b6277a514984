#include "reward/genrm/reference_file.h"

#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace m1rl::reward::genrm {
namespace {

// The output line for one input line (`line_number` from 1).
nlohmann::json PickOne(const GenRm& genrm, const SwissOptions& options, const std::string& line,
                       int64_t line_number, ReferenceFileStats* stats) {
  nlohmann::json out = {{"id", std::to_string(line_number)}};
  nlohmann::json in = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded() || !in.is_object()) {
    out["error"] = absl::StrCat("line ", line_number, ": not a JSON object");
    return out;
  }
  if (in.contains("id")) out["id"] = in["id"].is_string() ? in["id"].get<std::string>() : in["id"].dump();
  auto prompt = in.find("prompt");
  auto candidates = in.find("candidates");
  if (prompt == in.end() || !prompt->is_string()) {
    out["error"] = absl::StrCat("line ", line_number, ": \"prompt\" must be a string");
    return out;
  }
  out["prompt"] = *prompt;
  std::vector<std::string> texts;
  if (candidates != in.end() && candidates->is_array()) {
    for (const nlohmann::json& c : *candidates) {
      if (!c.is_string()) break;
      texts.push_back(c.get<std::string>());
    }
  }
  if (candidates == in.end() || !candidates->is_array() || texts.size() != candidates->size() ||
      texts.empty()) {
    out["error"] =
        absl::StrCat("line ", line_number, ": \"candidates\" must be a non-empty array of strings");
    return out;
  }
  absl::StatusOr<SwissResult> r =
      SelectReference(genrm, prompt->get<std::string>(), texts, options, CheckContext{});
  if (!r.ok()) {
    out["error"] = absl::StrCat("line ", line_number, ": ", r.status().ToString());
    return out;
  }
  stats->judge_calls += r->judge_calls;
  out["reference"] = texts[r->winner];
  out["reference_index"] = r->winner;
  out["judge_version"] = r->judge_version;
  out["judge_calls"] = r->judge_calls;
  out["rounds"] = r->rounds_played;
  out["matches"] = r->matches;
  out["disagreements"] = r->disagreements;
  out["failed_matches"] = r->failed_matches;
  out["budget_exhausted"] = r->budget_exhausted;
  nlohmann::json standings = nlohmann::json::array();
  for (const SwissStanding& s : r->standings) {
    standings.push_back({{"index", s.index}, {"points", s.points}, {"buchholz", s.buchholz}});
  }
  out["standings"] = std::move(standings);
  return out;
}

}  // namespace

absl::StatusOr<ReferenceFileStats> PickReferences(const GenRm& genrm, const SwissOptions& options,
                                                  const std::string& in_path, const std::string& out_path) {
  std::ifstream in(in_path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", in_path));
  std::ofstream out(out_path, std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", out_path));
  ReferenceFileStats stats;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++stats.prompts;
    nlohmann::json result = PickOne(genrm, options, line, number, &stats);
    if (result.contains("error")) {
      ++stats.errors;
    } else {
      ++stats.references;
    }
    out << result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    if (!out) return absl::InternalError(absl::StrCat("write failed: ", out_path));
  }
  out.flush();
  if (!out) return absl::InternalError(absl::StrCat("write failed: ", out_path));
  return stats;
}

}  // namespace m1rl::reward::genrm
