#include "trainer/dataset.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = (std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()))).string();
  std::ofstream(path) << text;
  return path;
}

TEST(PromptDatasetTest, LoadsRowsWithDefaultsAndNumericAnswers) {
  std::string path = WriteFile("ds_ok", R"({"id":"a","prompt":"1+1=","answer":2,"domain":"math"}

{"prompt":"2+2=","answer":"4","completion":"\\boxed{4}"}
)");
  M1RL_ASSERT_OK_AND_ASSIGN(PromptDataset ds, PromptDataset::Load(path));
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds.row(0).id, "a");
  EXPECT_EQ(ds.row(0).answer, "2");
  EXPECT_EQ(ds.row(1).id, "row1");
  EXPECT_EQ(ds.row(1).domain, "math");
  EXPECT_EQ(ds.row(1).completion, "\\boxed{4}");
  std::filesystem::remove(path);
}

TEST(PromptDatasetTest, ErrorsNameFileLineAndField) {
  std::string path = WriteFile("ds_bad", "{\"prompt\":\"x\"}\n{\"answer\":1}\n");
  EXPECT_THAT(PromptDataset::Load(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path + ":2: field 'prompt'")));
  std::filesystem::remove(path);
  EXPECT_THAT(PromptDataset::Load("/nonexistent.jsonl"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent.jsonl")));
}

TEST(PromptSamplerTest, EpochsArePermutationsAndCursorResumes) {
  PromptSampler s(5, 7, true);
  std::vector<int64_t> first = s.NextBatch(5);
  EXPECT_EQ(std::set<int64_t>(first.begin(), first.end()).size(), 5u);  // a permutation
  std::vector<int64_t> next = s.NextBatch(3);
  PromptSampler resumed(5, 7, true);
  resumed.set_cursor(DataCursor{5});
  EXPECT_EQ(resumed.NextBatch(3), next);
  PromptSampler plain(3, 7, false);
  EXPECT_THAT(plain.NextBatch(4), ElementsAre(0, 1, 2, 0));
}

TEST(ShardRangeTest, ContiguousSlicesCoverTheBatch) {
  EXPECT_EQ(ShardRange(5, 0, 2), (std::pair<int64_t, int64_t>(0, 3)));
  EXPECT_EQ(ShardRange(5, 1, 2), (std::pair<int64_t, int64_t>(3, 5)));
  EXPECT_EQ(ShardRange(4, 0, 1), (std::pair<int64_t, int64_t>(0, 4)));
}

}  // namespace
}  // namespace m1rl::trainer
