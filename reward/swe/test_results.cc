#include "reward/swe/test_results.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/swe/diff_paths.h"

namespace m1rl::reward::swe {
namespace {

void Record(TestStatusMap& results, std::string_view id, TestStatus status) {
  auto [it, inserted] = results.emplace(std::string(id), status);
  if (!inserted && status > it->second) it->second = status;
}

std::optional<TestStatus> PytestStatus(std::string_view word) {
  if (word == "PASSED") return TestStatus::kPassed;
  if (word == "FAILED") return TestStatus::kFailed;
  if (word == "ERROR") return TestStatus::kError;
  if (word == "SKIPPED") return TestStatus::kSkipped;
  if (word == "XFAIL") return TestStatus::kXfail;
  return std::nullopt;
}

void ParsePytestLine(std::string_view line, TestStatusMap& results) {
  std::vector<std::string_view> words = SplitOn(line, ' ');
  words.erase(std::remove(words.begin(), words.end(), std::string_view()), words.end());
  if (words.size() < 2) return;
  if (std::optional<TestStatus> s = PytestStatus(words[0])) {
    // "-rA" summary: "STATUS id[ - message]"; "SKIPPED [1] file:line: reason" names no test.
    if (words[1].front() == '[') return;
    Record(results, words[1], *s);
    return;
  }
  // "-v": "id STATUS [ 50%]"; the id of a test item always contains "::".
  if (words[0].find("::") == std::string_view::npos) return;
  if (std::optional<TestStatus> s = PytestStatus(words[1])) Record(results, words[0], *s);
}

void ParseGtestLine(std::string_view line, TestStatusMap& results) {
  static constexpr std::pair<std::string_view, TestStatus> kTags[] = {
      {"[       OK ] ", TestStatus::kPassed},
      {"[  FAILED  ] ", TestStatus::kFailed},
      {"[  SKIPPED ] ", TestStatus::kSkipped},
  };
  for (const auto& [tag, status] : kTags) {
    if (line.substr(0, tag.size()) != tag) continue;
    std::string_view rest = line.substr(tag.size());
    const size_t end = rest.find_first_of(" ,");
    const std::string_view id = rest.substr(0, end);
    const std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    // A test line ends after the id, or carries " (N ms)" or ", where TypeParam = ..." after it.
    const bool test_line = tail.empty() || tail.substr(0, 2) == " (" || tail.substr(0, 7) == ", where";
    if (test_line && id.find('.') != std::string_view::npos) Record(results, id, status);
    return;
  }
}

template <typename LineParser>
TestStatusMap ParseLines(std::string_view log, LineParser parse) {
  TestStatusMap results;
  for (std::string_view line : SplitOn(log, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    parse(line, results);
  }
  return results;
}

}  // namespace

const char* TestStatusName(TestStatus status) {
  switch (status) {
    case TestStatus::kPassed:
      return "PASSED";
    case TestStatus::kXfail:
      return "XFAIL";
    case TestStatus::kSkipped:
      return "SKIPPED";
    case TestStatus::kError:
      return "ERROR";
    case TestStatus::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

TestStatusMap ParsePytestLog(std::string_view log) { return ParseLines(log, ParsePytestLine); }
TestStatusMap ParseGtestLog(std::string_view log) { return ParseLines(log, ParseGtestLine); }

bool AnyFailure(const TestStatusMap& results) {
  return std::any_of(results.begin(), results.end(), [](const auto& entry) {
    return entry.second == TestStatus::kFailed || entry.second == TestStatus::kError;
  });
}

std::string TestGrade::Summary() const {
  const auto list = [](const std::vector<std::string>& failed) {
    if (failed.empty()) return std::string();
    constexpr size_t kShown = 5;
    std::string out = absl::StrJoin(failed.begin(), failed.begin() + std::min(failed.size(), kShown), " ");
    if (failed.size() > kShown) absl::StrAppend(&out, " +", failed.size() - kShown, " more");
    return absl::StrCat(" (", out, ")");
  };
  const size_t f2p = fail_to_pass_success + fail_to_pass_failed.size();
  const size_t p2p = pass_to_pass_success + pass_to_pass_failed.size();
  return absl::StrCat("F2P ", fail_to_pass_success, "/", f2p, list(fail_to_pass_failed), " P2P ",
                      pass_to_pass_success, "/", p2p, list(pass_to_pass_failed));
}

TestGrade GradeTests(const google::protobuf::RepeatedPtrField<std::string>& fail_to_pass,
                     const google::protobuf::RepeatedPtrField<std::string>& pass_to_pass,
                     const TestStatusMap& results) {
  TestGrade grade;
  const auto status_of = [&](const std::string& id) -> std::optional<TestStatus> {
    auto it = results.find(id);
    return it == results.end() ? std::nullopt : std::optional<TestStatus>(it->second);
  };
  const auto describe = [](const std::string& id, std::optional<TestStatus> s) {
    return absl::StrCat(id, "(", s ? TestStatusName(*s) : "absent", ")");
  };
  for (const std::string& id : fail_to_pass) {
    const std::optional<TestStatus> s = status_of(id);
    if (s == TestStatus::kPassed || s == TestStatus::kXfail) {
      ++grade.fail_to_pass_success;
    } else {
      grade.fail_to_pass_failed.push_back(describe(id, s));
    }
  }
  for (const std::string& id : pass_to_pass) {
    const std::optional<TestStatus> s = status_of(id);
    if (s == TestStatus::kPassed || s == TestStatus::kXfail || s == TestStatus::kSkipped) {
      ++grade.pass_to_pass_success;
    } else {
      grade.pass_to_pass_failed.push_back(describe(id, s));
    }
  }
  return grade;
}

}  // namespace m1rl::reward::swe
