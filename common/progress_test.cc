#include "common/progress.h"

#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl {
namespace {

using ::testing::ElementsAre;

struct FakeClock {
  double t = 100.0;
  std::function<double()> Fn() {
    return [this] { return t; };
  }
};

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(ProgressTest, PlainModePrintsEveryIntervalWithRateAndEta) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions opt;
  opt.out = &out;
  opt.interactive = false;
  opt.plain_interval_s = 10;
  opt.now_s = clock.Fn();
  Progress p("generate", 1000, "tok", opt);
  clock.t += 4;
  p.Update(100);  // 4 s < 10 s: nothing
  EXPECT_EQ(out.str(), "");
  clock.t += 6;  // 10 s elapsed, 250 done: rate 25 tok/s, 750 left -> ETA 30 s
  p.Update(250, "seqs 3");
  clock.t += 5;
  p.Update(400);  // 5 s since last print: nothing
  clock.t += 15;  // 30 s elapsed, 900 done: rate 30 tok/s, 100 left -> ETA 3.33 s -> "3s"
  p.Update(900);
  clock.t += 10;  // 40 s, 1000 done: rate 25
  p.Update(1000);
  p.Finish("ok");
  EXPECT_THAT(Lines(out.str()), ElementsAre("generate 250/1000 tok (25.0%) 25.0 tok/s ETA 30s | seqs 3",
                                            "generate 900/1000 tok (90.0%) 30.0 tok/s ETA 3s",
                                            "generate 1000/1000 tok (100.0%) 25.0 tok/s ETA 0s",
                                            "generate done 1000/1000 tok in 40s (25.0 tok/s) | ok"));
}

TEST(ProgressTest, InteractiveRedrawsInPlaceWithBar) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions opt;
  opt.out = &out;
  opt.interactive = true;
  opt.redraw_interval_s = 1;
  opt.bar_width = 10;
  opt.now_s = clock.Fn();
  Progress p("score", 8, "seq", opt);
  clock.t += 2;
  p.Update(2);  // 25%: 2 of 10 bar cells; rate 1 seq/s, 6 left -> 6s
  clock.t += 0.5;
  p.Update(3);  // within the redraw interval: nothing
  clock.t += 2;
  p.Finish();  // 3 in 4.5 s: 0.67 seq/s
  EXPECT_EQ(out.str(),
            "\rscore [##........] 2/8 seq (25.0%) 1.00 seq/s ETA 6s\x1b[K"
            "\rscore done 3/8 seq in 4s (0.67 seq/s)\x1b[K\n");
}

TEST(ProgressTest, UnknownTotalHasNoEtaAndAddAccumulates) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions opt;
  opt.out = &out;
  opt.interactive = false;
  opt.plain_interval_s = 1;
  opt.now_s = clock.Fn();
  Progress p("read", 0, "row", opt);
  clock.t += 2;
  p.Add(3000);
  p.Add(1000);  // same instant: no line
  EXPECT_EQ(p.done(), 4000);
  EXPECT_FALSE(p.EtaSeconds().has_value());
  EXPECT_DOUBLE_EQ(p.Rate(), 2000.0);
  p.Finish();
  p.Finish();  // idempotent
  EXPECT_THAT(Lines(out.str()),
              ElementsAre("read 3000 row 1.50k row/s", "read done 4000 row in 2s (2.00k row/s)"));
}

TEST(ProgressTest, DestructorFinishes) {
  FakeClock clock;
  std::ostringstream out;
  {
    ProgressOptions opt;
    opt.out = &out;
    opt.interactive = false;
    opt.now_s = clock.Fn();
    Progress p("x", 2, "it", opt);
    clock.t += 1;
    p.Update(2);
  }
  EXPECT_EQ(out.str(), "x done 2/2 it in 1s (2.00 it/s)\n");
}

TEST(ProgressTest, ConcurrentAddsAllCount) {
  std::ostringstream out;
  ProgressOptions opt;
  opt.out = &out;
  opt.interactive = false;
  opt.plain_interval_s = 1e9;  // no lines while counting
  Progress p("work", 0, "it", opt);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&p] {
      for (int i = 0; i < 1000; ++i) p.Add(1);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(p.done(), 4000);
}

TEST(ProgressTest, InteractiveStderrLineMakesLogLinesClearIt) {
  FakeClock clock;
  ProgressOptions opt;  // out: std::cerr
  opt.interactive = true;
  opt.now_s = clock.Fn();
  Progress p("t", 2, "it", opt);
  EXPECT_FALSE(GetLogLineInPlace());
  clock.t += 1;
  p.Update(1);
  EXPECT_TRUE(GetLogLineInPlace());
  p.Finish();
  EXPECT_FALSE(GetLogLineInPlace());
}

TEST(ProgressTest, Formatting) {
  EXPECT_EQ(Progress::FormatDuration(0), "0s");
  EXPECT_EQ(Progress::FormatDuration(59.9), "59s");
  EXPECT_EQ(Progress::FormatDuration(187), "3:07");
  EXPECT_EQ(Progress::FormatDuration(3723), "1:02:03");
  EXPECT_EQ(Progress::FormatDuration(-1), "?");
  EXPECT_EQ(Progress::FormatRate(0.5), "0.50");
  EXPECT_EQ(Progress::FormatRate(35.24), "35.2");
  EXPECT_EQ(Progress::FormatRate(1234), "1.23k");
  EXPECT_EQ(Progress::FormatRate(4.56e6), "4.56M");
}

}  // namespace
}  // namespace m1rl
