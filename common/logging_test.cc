#include "common/logging.h"

#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl {
namespace {

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override { SetLogSinkForTesting(&sink_); }
  void TearDown() override {
    SetLogSinkForTesting(nullptr);
    SetLogRank(-1);
    SetMinLogLevel(LogLevel::kInfo);
  }
  std::vector<std::string> Lines() const {
    std::vector<std::string> out;
    std::istringstream in(sink_.str());
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  std::ostringstream sink_;
};

TEST_F(LoggingTest, PrefixHasSeverityTimestampRankFileAndLine) {
  SetLogRank(3);
  const int line = __LINE__ + 1;
  M1RL_LOG(WARNING) << "loss " << 0.5;
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  const std::regex re(R"(W\d{8} \d{2}:\d{2}:\d{2}\.\d{6} r3 logging_test\.cc:(\d+)\] loss 0\.5)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, re)) << lines[0];
  EXPECT_EQ(std::stoi(m[1]), line);
}

TEST_F(LoggingTest, NoRankPrefixWhileUnsetAndLettersPerLevel) {
  M1RL_LOG(INFO) << "a";
  M1RL_LOG(ERROR) << "b";
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(std::regex_match(lines[0], std::regex(R"(I\d{8} [0-9:.]+ logging_test\.cc:\d+\] a)")))
      << lines[0];
  EXPECT_TRUE(std::regex_match(lines[1], std::regex(R"(E\d{8} [0-9:.]+ logging_test\.cc:\d+\] b)")))
      << lines[1];
}

TEST_F(LoggingTest, BelowMinimumIsDroppedAndNotEvaluated) {
  SetMinLogLevel(LogLevel::kWarning);
  int evaluated = 0;
  auto side_effect = [&evaluated] { return ++evaluated; };
  M1RL_LOG(INFO) << "hidden " << side_effect();
  M1RL_LOG(WARNING) << "shown " << side_effect();
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], ::testing::EndsWith("] shown 1"));
  EXPECT_EQ(evaluated, 1);
}

TEST_F(LoggingTest, ConcurrentMessagesNeverInterleave) {
  constexpr int kThreads = 4, kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kPerThread; ++i) M1RL_LOG(INFO) << "thread " << t << " message " << i << " end";
    });
  }
  for (auto& th : threads) th.join();
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kPerThread));
  const std::regex re(R"(I\d{8} [0-9:.]+ logging_test\.cc:\d+\] thread \d message \d+ end)");
  for (const std::string& l : lines) ASSERT_TRUE(std::regex_match(l, re)) << l;
}

TEST_F(LoggingTest, ClearsAnInPlaceLineFirst) {
  SetLogLineInPlace(true);
  M1RL_LOG(INFO) << "x";
  SetLogLineInPlace(false);
  M1RL_LOG(INFO) << "y";
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].substr(0, 5), "\r\x1b[KI");
  EXPECT_EQ(lines[1].substr(0, 1), "I");
}

TEST(ParseLogLevelTest, NamesInAnyCase) {
  LogLevel l = LogLevel::kInfo;
  EXPECT_TRUE(ParseLogLevel("WARNING", &l));
  EXPECT_EQ(l, LogLevel::kWarning);
  EXPECT_TRUE(ParseLogLevel("error", &l));
  EXPECT_EQ(l, LogLevel::kError);
  EXPECT_FALSE(ParseLogLevel("debug", &l));
  EXPECT_EQ(l, LogLevel::kError);
}

}  // namespace
}  // namespace m1rl
