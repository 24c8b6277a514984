// Test logs to per-test statuses, and SWE-bench grading of FAIL_TO_PASS / PASS_TO_PASS (REWARDS.md §5).
//
// Parsing (only lines of the framework's own report formats count; anything else is ignored):
//   pytest: "-rA" summary lines "PASSED id", "FAILED id - msg", "ERROR id", "XFAIL id - reason",
//           "SKIPPED id" and "-v" lines "id PASSED [ 50%]" (id contains "::"). The -rA form
//           "SKIPPED [1] file:line: reason" names no test and is ignored. XPASS is not a status (as in
//           SWE-bench): such a test is absent.
//   gtest:  "[       OK ] Suite.Name (3 ms)", "[  FAILED  ] Suite.Name (3 ms)", "[  SKIPPED ] Suite.Name";
//           the "[  FAILED  ] 2 tests, listed below:" header is not a test.
// A test reported twice with different statuses keeps the worst (FAILED > ERROR > SKIPPED > XFAIL >
// PASSED): a line the code under test prints to claim a pass cannot hide the framework's failure line.
//
// Grading as SWE-bench's harness grading.py: passed = PASSED or XFAIL; a FAIL_TO_PASS test succeeds iff
// passed (SKIPPED, absent, FAILED and ERROR fail it); a PASS_TO_PASS test is maintained iff passed or
// SKIPPED (absent, FAILED and ERROR fail it). Resolved iff every test of both lists succeeds.
//
// Thread safety: pure functions.
#ifndef M1RL_REWARD_SWE_TEST_RESULTS_H_
#define M1RL_REWARD_SWE_TEST_RESULTS_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "google/protobuf/repeated_field.h"

namespace m1rl::reward::swe {

enum class TestStatus { kPassed = 0, kXfail = 1, kSkipped = 2, kError = 3, kFailed = 4 };  // worse is larger
const char* TestStatusName(TestStatus status);  // "PASSED", "XFAIL", ...

using TestStatusMap = std::map<std::string, TestStatus, std::less<>>;

TestStatusMap ParsePytestLog(std::string_view log);
TestStatusMap ParseGtestLog(std::string_view log);

// Whether any test of `results` is FAILED or ERROR.
bool AnyFailure(const TestStatusMap& results);

struct TestGrade {
  int fail_to_pass_success = 0;
  std::vector<std::string> fail_to_pass_failed;  // "id(FAILED)", "id(absent)", ...
  int pass_to_pass_success = 0;
  std::vector<std::string> pass_to_pass_failed;
  bool Resolved() const { return fail_to_pass_failed.empty() && pass_to_pass_failed.empty(); }
  bool Regression() const { return !pass_to_pass_failed.empty(); }
  // "F2P 1/2 (test_b(absent)) P2P 3/3".
  std::string Summary() const;
};

TestGrade GradeTests(const google::protobuf::RepeatedPtrField<std::string>& fail_to_pass,
                     const google::protobuf::RepeatedPtrField<std::string>& pass_to_pass,
                     const TestStatusMap& results);

}  // namespace m1rl::reward::swe

#endif  // M1RL_REWARD_SWE_TEST_RESULTS_H_
