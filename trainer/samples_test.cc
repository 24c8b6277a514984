#include "trainer/samples.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "proto/tensorboard.pb.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::IsOk;
using ::testing::HasSubstr;

PromptRow Row() {
  PromptRow row;
  row.id = "p7";
  row.prompt = "2+3=";
  row.answer = "5";
  row.domain = "math";
  row.line = 8;
  return row;
}

rl::Completion Completion(int sample, const std::string& text) {
  rl::Completion c;
  c.set_sample_index(sample);
  c.set_text(text);
  c.set_stop_reason(rl::STOP_EOS);
  c.add_token_ids(4);
  c.add_token_ids(5);
  return c;
}

TEST(SamplesTest, RecordJsonHasEveryField) {
  rl::ScoreResult score;
  score.set_status(rl::OK);
  score.set_verdict(rl::CORRECT);
  score.set_total(1.1);
  score.set_details("layer 1");
  SampleRecord r = MakeSampleRecord(Row(), Completion(1, "\\boxed{5}"), &score);
  r.step = 3;
  EXPECT_EQ(
      SampleJson(r).dump(),
      R"({"step":3,"id":"p7","line":8,"domain":"math","prompt":"2+3=","answer":"5","sample":1,)"
      R"("completion":"\\boxed{5}","stop_reason":"STOP_EOS","tokens":2,"status":"OK","verdict":"CORRECT",)"
      R"("reward":1.1,"details":"layer 1"})");
  // No reply: UNSCORED, reward null, no verdict; no step outside training.
  const SampleRecord u = MakeSampleRecord(Row(), Completion(0, "x"), nullptr);
  const nlohmann::ordered_json j = SampleJson(u);
  EXPECT_FALSE(j.contains("step"));
  EXPECT_EQ(j["status"], "UNSCORED");
  EXPECT_TRUE(j["reward"].is_null());
  EXPECT_EQ(j["verdict"], "");
  // A non-OK reply carries its status and details but no reward.
  rl::ScoreResult timeout;
  timeout.set_status(rl::TIMEOUT);
  timeout.set_details("deadline");
  const nlohmann::ordered_json t = SampleJson(MakeSampleRecord(Row(), Completion(0, "x"), &timeout));
  EXPECT_EQ(t["status"], "TIMEOUT");
  EXPECT_EQ(t["details"], "deadline");
  EXPECT_TRUE(t["reward"].is_null());
}

TEST(SamplesTest, StepLogWritesJsonlAndTensorBoardText) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / absl::StrCat("m1rl_samples_", ::getpid())).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  M1RL_ASSERT_OK_AND_ASSIGN(auto jsonl, SampleWriter::Open(dir + "/samples.jsonl", /*append=*/true));
  TensorBoardOptions tbo;
  tbo.clock = [] { return 5.0; };
  tbo.hostname = "h";
  M1RL_ASSERT_OK_AND_ASSIGN(auto tb, TensorBoardWriter::Open(dir + "/tb", tbo));
  rl::ScoreResult score;
  score.set_status(rl::OK);
  score.set_verdict(rl::INCORRECT);
  const std::vector<SampleRecord> records = {MakeSampleRecord(Row(), Completion(0, "6 ```"), &score),
                                             MakeSampleRecord(Row(), Completion(1, "5"), &score)};
  ASSERT_THAT(LogStepSamples(4, records, *jsonl, tb.get()), IsOk());
  ASSERT_THAT(LogStepSamples(5, {}, *jsonl, tb.get()), IsOk());  // nothing logged: no lines, no event

  std::ifstream in(dir + "/samples.jsonl");
  std::vector<nlohmann::json> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["step"], 4);
  EXPECT_EQ(lines[1]["sample"], 1);

  M1RL_ASSERT_OK_AND_ASSIGN(std::vector<std::string> events, ReadTfRecords(tb->path()));
  ASSERT_EQ(events.size(), 2u);  // file_version + one text event
  tb::Event e;
  ASSERT_TRUE(e.ParseFromString(events[1]));
  EXPECT_EQ(e.step(), 4);
  ASSERT_EQ(e.summary().value_size(), 1);
  const tb::SummaryValue& v = e.summary().value(0);
  EXPECT_EQ(v.tag(), "samples");
  EXPECT_EQ(v.metadata().plugin_data().plugin_name(), "text");
  ASSERT_EQ(v.tensor().string_val_size(), 1);
  const std::string& md = v.tensor().string_val(0);
  EXPECT_THAT(md, HasSubstr("**p7** sample 0 (math): OK INCORRECT, reward 0, answer `5`"));
  EXPECT_THAT(md, HasSubstr("```\n6 '''\n```"));  // a fence inside a completion cannot close the block
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace m1rl::trainer
