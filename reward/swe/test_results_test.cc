#include "reward/swe/test_results.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::reward::swe {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// A hand-written `pytest -rA` log: progress lines, a failure traceback that prints look-alike text, and the
// short test summary.
constexpr const char kPytestRa[] =
    R"(============================= test session starts ==============================
collected 5 items

tests/test_calc.py .F.sx                                                  [100%]

=================================== FAILURES ===================================
___________________________________ test_sub ___________________________________
    def test_sub():
>       assert sub(3, 1) == 2
E       assert 4 == 2
PASSED is not a test id
=========================== short test summary info ============================
PASSED tests/test_calc.py::test_add
PASSED tests/test_calc.py::test_mul[2-3]
FAILED tests/test_calc.py::test_sub - assert 4 == 2
SKIPPED [1] tests/test_calc.py:20: no gpu
XFAIL tests/test_calc.py::test_div - known bug
ERROR tests/test_calc.py::test_fixture - fixture 'db' not found
==================== 1 failed, 2 passed, 1 skipped in 0.03s ====================
)";

TEST(ParsePytestLogTest, RaSummaryLines) {
  const TestStatusMap r = ParsePytestLog(kPytestRa);
  // "PASSED is not a test id" inside the traceback yields a test "is": only listed ids are ever graded.
  EXPECT_THAT(r, ElementsAre(Pair("is", TestStatus::kPassed),
                             Pair("tests/test_calc.py::test_add", TestStatus::kPassed),
                             Pair("tests/test_calc.py::test_div", TestStatus::kXfail),
                             Pair("tests/test_calc.py::test_fixture", TestStatus::kError),
                             Pair("tests/test_calc.py::test_mul[2-3]", TestStatus::kPassed),
                             Pair("tests/test_calc.py::test_sub", TestStatus::kFailed)));
}

TEST(ParsePytestLogTest, VerboseLinesAndWorstStatusWins) {
  constexpr const char kLog[] =
      "tests/t.py::test_a PASSED                                 [ 50%]\r\n"
      "tests/t.py::test_b FAILED                                 [100%]\n"
      "PASSED tests/t.py::test_b\n"  // a self-printed pass cannot hide the framework's FAILED
      "not_an_id PASSED\n";
  EXPECT_THAT(ParsePytestLog(kLog), ElementsAre(Pair("tests/t.py::test_a", TestStatus::kPassed),
                                                Pair("tests/t.py::test_b", TestStatus::kFailed)));
}

TEST(ParseGtestLogTest, OkFailedSkippedAndSummaryHeader) {
  constexpr const char kLog[] = R"([==========] Running 4 tests from 2 test suites.
[ RUN      ] Calc.Add
[       OK ] Calc.Add (0 ms)
[ RUN      ] Calc.Sub
calc_test.cc:12: Failure
[  FAILED  ] Calc.Sub (1 ms)
[ RUN      ] Calc.Gpu
[  SKIPPED ] Calc.Gpu (0 ms)
[ RUN      ] Typed/0.Mul
[       OK ] Typed/0.Mul, where TypeParam = int (0 ms)
[==========] 4 tests from 2 test suites ran. (2 ms total)
[  PASSED  ] 2 tests.
[  FAILED  ] 1 test, listed below:
[  FAILED  ] Calc.Sub
 1 FAILED TEST
)";
  EXPECT_THAT(ParseGtestLog(kLog),
              ElementsAre(Pair("Calc.Add", TestStatus::kPassed), Pair("Calc.Gpu", TestStatus::kSkipped),
                          Pair("Calc.Sub", TestStatus::kFailed), Pair("Typed/0.Mul", TestStatus::kPassed)));
}

TEST(AnyFailureTest, FailedOrErrorOnly) {
  EXPECT_FALSE(
      AnyFailure({{"a", TestStatus::kPassed}, {"b", TestStatus::kSkipped}, {"c", TestStatus::kXfail}}));
  EXPECT_TRUE(AnyFailure({{"a", TestStatus::kPassed}, {"b", TestStatus::kError}}));
  EXPECT_TRUE(AnyFailure({{"a", TestStatus::kFailed}}));
}

google::protobuf::RepeatedPtrField<std::string> Ids(std::initializer_list<const char*> ids) {
  google::protobuf::RepeatedPtrField<std::string> out;
  for (const char* id : ids) out.Add(id);
  return out;
}

// SWE-bench grading.py: F2P needs PASSED/XFAIL; P2P also accepts SKIPPED; absent fails both.
TEST(GradeTestsTest, SweBenchRules) {
  const TestStatusMap results = {{"f1", TestStatus::kPassed}, {"f2", TestStatus::kSkipped},
                                 {"f3", TestStatus::kXfail},  {"p1", TestStatus::kSkipped},
                                 {"p2", TestStatus::kPassed}, {"p3", TestStatus::kError}};
  const TestGrade g = GradeTests(Ids({"f1", "f2", "f3", "f4"}), Ids({"p1", "p2", "p3", "p4"}), results);
  EXPECT_EQ(g.fail_to_pass_success, 2);
  EXPECT_THAT(g.fail_to_pass_failed, ElementsAre("f2(SKIPPED)", "f4(absent)"));
  EXPECT_EQ(g.pass_to_pass_success, 2);
  EXPECT_THAT(g.pass_to_pass_failed, ElementsAre("p3(ERROR)", "p4(absent)"));
  EXPECT_FALSE(g.Resolved());
  EXPECT_TRUE(g.Regression());
  EXPECT_EQ(g.Summary(), "F2P 2/4 (f2(SKIPPED) f4(absent)) P2P 2/4 (p3(ERROR) p4(absent))");

  const TestGrade ok = GradeTests(Ids({"f1", "f3"}), Ids({"p1", "p2"}), results);
  EXPECT_TRUE(ok.Resolved());
  EXPECT_FALSE(ok.Regression());
  EXPECT_EQ(ok.Summary(), "F2P 2/2 P2P 2/2");
}

}  // namespace
}  // namespace m1rl::reward::swe
