#include "reward/genrm/reference_file.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "reward/genrm/testing/scripted_judge.h"

namespace m1rl::reward::genrm {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

// Prefers the answer with more '*' (a known total order); "down" makes the judge fail.
std::shared_ptr<testing::ScriptedJudge> StarJudge() {
  return std::make_shared<testing::ScriptedJudge>(
      [](const JudgeRequest& r, int) -> absl::StatusOr<std::string> {
        std::string a = testing::BlockAfter(r.messages[1].content, "ANSWER A:");
        std::string b = testing::BlockAfter(r.messages[1].content, "ANSWER B:");
        if (a == "down" || b == "down") return absl::UnavailableError("judge endpoint down");
        auto stars = [](const std::string& s) { return std::count(s.begin(), s.end(), '*'); };
        return std::string(stars(a) > stars(b) ? "Verdict: [[A]]" : "Verdict: [[B]]");
      });
}

std::vector<nlohmann::json> ReadLines(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(GenrmReferenceFileTest, PicksTheBestPerPromptAndReportsBadLines) {
  std::string dir = ::testing::TempDir() + "/genrm_reference_file";
  std::filesystem::create_directories(dir);
  std::string in_path = dir + "/candidates.jsonl";
  std::ofstream(in_path)
      << R"({"id": "p1", "prompt": "q1", "candidates": ["a*", "b***", "c", "d**", "e****", "f*"]})"
      << "\n"
      << R"({"prompt": "q2", "candidates": ["only"]})"
      << "\n"
      << "\n"
      << R"({"prompt": "q3", "candidates": []})"
      << "\n"
      << "not json\n"
      << R"({"prompt": "q5", "candidates": ["x*", "down"]})"
      << "\n";
  GenRm genrm(StarJudge(), *ResolveGenrmOptions(config::GenrmConfig()));
  absl::StatusOr<ReferenceFileStats> stats =
      PickReferences(genrm, SwissOptions{}, in_path, dir + "/refs.jsonl");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->prompts, 5);
  EXPECT_EQ(stats->references, 2);
  EXPECT_EQ(stats->errors, 3);
  std::vector<nlohmann::json> out = ReadLines(dir + "/refs.jsonl");
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0]["id"], "p1");
  EXPECT_EQ(out[0]["reference"], "e****");
  EXPECT_EQ(out[0]["reference_index"], 4);
  EXPECT_EQ(out[0]["rounds"], 5);  // ceil(log2 6) + 2
  EXPECT_EQ(out[0]["judge_version"], genrm.version());
  EXPECT_EQ(out[0]["standings"][0]["index"], 4);
  EXPECT_EQ(out[1]["id"], "2");
  EXPECT_EQ(out[1]["reference"], "only");
  EXPECT_EQ(out[1]["judge_calls"], 0);
  EXPECT_THAT(out[2]["error"].get<std::string>(),
              HasSubstr("line 4: \"candidates\" must be a non-empty array"));
  EXPECT_THAT(out[3]["error"].get<std::string>(), HasSubstr("line 5: not a JSON object"));
  EXPECT_THAT(out[4]["error"].get<std::string>(), HasSubstr("judge endpoint down"));
  EXPECT_FALSE(out[4].contains("reference"));
  EXPECT_EQ(stats->judge_calls, out[0]["judge_calls"].get<int64_t>());
  EXPECT_THAT(PickReferences(genrm, SwissOptions{}, dir + "/missing.jsonl", dir + "/x.jsonl").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.jsonl")));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace m1rl::reward::genrm
