#include "reward/swe/swe_verifier.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::reward {
namespace {

using ::testing::HasSubstr;

// The Python fixture: add() is broken (FAIL_TO_PASS test_add, added by the test patch); mul() works
// (PASS_TO_PASS test_mul).
constexpr const char kCalcPy[] = R"("""Tiny calculator."""


def add(a, b):
    return a - b


def mul(a, b):
    return a * b
)";
constexpr const char kTestCalcPy[] = R"(from calc import add, mul


def test_mul():
    assert mul(2, 3) == 6
)";
constexpr const char kPyTestPatch[] = R"(--- a/tests/test_calc.py
+++ b/tests/test_calc.py
@@ -3,3 +3,7 @@
 
 def test_mul():
     assert mul(2, 3) == 6
+
+
+def test_add():
+    assert add(2, 3) == 5
)";
constexpr const char kPyGold[] = R"(--- a/calc.py
+++ b/calc.py
@@ -2,7 +2,7 @@
 
 
 def add(a, b):
-    return a - b
+    return a + b
 
 
 def mul(a, b):
)";
// The C++ fixture: square() is wrong; the test binary prints GoogleTest-format lines (no gtest headers
// are needed inside the sandbox).
constexpr const char kMathH[] = R"(inline int square(int x) { return x + x; }
inline int twice(int x) { return 2 * x; }
)";
constexpr const char kTestMainCc[] = R"(#include <cstdio>
#include "mathx.h"
static int failed = 0;
static void Check(const char* name, bool ok) {
  std::printf("[ RUN      ] %s\n", name);
  std::printf(ok ? "[       OK ] %s (0 ms)\n" : "[  FAILED  ] %s (0 ms)\n", name);
  if (!ok) failed = 1;
}
int main() {
  Check("Math.Twice", twice(4) == 8);
  return failed;
}
)";
constexpr const char kCcTestPatch[] = R"(--- a/test_main.cc
+++ b/test_main.cc
@@ -8,5 +8,6 @@
 }
 int main() {
   Check("Math.Twice", twice(4) == 8);
+  Check("Math.Square", square(3) == 9);
   return failed;
 }
)";
constexpr const char kCcGold[] = R"(--- a/mathx.h
+++ b/mathx.h
@@ -1,2 +1,2 @@
-inline int square(int x) { return x + x; }
+inline int square(int x) { return x * x; }
 inline int twice(int x) { return 2 * x; }
)";

void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
  ASSERT_EQ(chmod(path.c_str(), 0644), 0) << path;
}

class SweVerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config::SandboxConfig config;
    config.set_slots(2);
    absl::StatusOr<sandbox::SandboxOptions> options = sandbox::ResolveSandboxOptions(config);
    ASSERT_TRUE(options.ok()) << options.status();
    absl::StatusOr<std::unique_ptr<sandbox::SandboxPool>> pool = sandbox::SandboxPool::Create(*options);
    ASSERT_TRUE(pool.ok()) << pool.status();
    shared_pool = new std::shared_ptr<sandbox::SandboxPool>(std::move(*pool));
    // Fixture repositories created here, world-readable (the sandbox runs as another uid).
    std::string tmpl = "/tmp/m1rl-swe-fixture-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    ASSERT_EQ(chmod(tmpl.c_str(), 0755), 0);
    fixture_root = new std::string(tmpl);
    WriteFile(tmpl + "/py/calc.py", kCalcPy);
    WriteFile(tmpl + "/py/tests/test_calc.py", kTestCalcPy);
    WriteFile(tmpl + "/cc/mathx.h", kMathH);
    WriteFile(tmpl + "/cc/test_main.cc", kTestMainCc);
    for (const char* d : {"/py", "/py/tests", "/cc"}) ASSERT_EQ(chmod((tmpl + d).c_str(), 0755), 0);
    // The same Python project as a git bundle (a copy, so that py/ stays a plain directory).
    const std::string git = "git -c user.email=t@t -c user.name=t -c init.defaultBranch=main";
    const std::string cmd = "cp -a " + tmpl + "/py " + tmpl + "/pygit && cd " + tmpl + "/pygit && " + git +
                            " init -q && " + git + " add -A && " + git + " commit -qm base && " + git +
                            " bundle create -q ../py.bundle HEAD main 2>/dev/null && chmod 644 ../py.bundle";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    std::filesystem::remove_all(*fixture_root, ignored);
    delete fixture_root;
    delete shared_pool;
  }

  static rl::ScoreItem PyItem(const std::string& patch) {
    rl::ScoreItem item;
    item.set_domain("swe");
    item.set_response("<think>fix add</think>\n```diff\n" + patch + "```\n");
    rl::SwePayload* swe = item.mutable_swe();
    swe->set_instance_id("calc-1");
    swe->set_repo_dir(*fixture_root + "/py");
    swe->set_test_patch(kPyTestPatch);
    swe->set_test_command("/usr/bin/python3 -m pytest -rA -p no:cacheprovider tests");
    swe->add_fail_to_pass("tests/test_calc.py::test_add");
    swe->add_pass_to_pass("tests/test_calc.py::test_mul");
    swe->set_results_format(rl::SwePayload::PYTEST);
    return item;
  }

  static VerifyOutcome Verify(const rl::ScoreItem& item, const Verifier* verifier = nullptr) {
    std::unique_ptr<Verifier> own;
    if (verifier == nullptr) {
      own = NewSweVerifier(*shared_pool, Options());
      verifier = own.get();
    }
    CheckContext ctx;
    ctx.deadline = Clock::now() + std::chrono::seconds(120);
    VerifyInput input;
    input.domain = "swe";
    input.response = item.response();
    input.item = &item;
    return verifier->Verify(input, ctx);
  }
  static swe::SweOptions Options() {
    absl::StatusOr<swe::SweOptions> o = swe::ResolveSweOptions(config::SweConfig());
    EXPECT_TRUE(o.ok()) << o.status();
    o->wall_ms = 30000;
    o->cpu_ms = 30000;
    return *o;
  }

  static std::shared_ptr<sandbox::SandboxPool>* shared_pool;
  static std::string* fixture_root;
};
std::shared_ptr<sandbox::SandboxPool>* SweVerifierTest::shared_pool = nullptr;
std::string* SweVerifierTest::fixture_root = nullptr;

TEST_F(SweVerifierTest, GoldPatchResolves) {
  const VerifyOutcome o = Verify(PyItem(kPyGold));
  ASSERT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.verdict, rl::CORRECT) << o.details;
  EXPECT_EQ(o.correctness, 1.0);
  EXPECT_THAT(o.details, HasSubstr("RESOLVED rung=git_apply exit=0 F2P 1/1 P2P 1/1"));
}

TEST_F(SweVerifierTest, GitBundleSnapshot) {
  rl::ScoreItem item = PyItem(kPyGold);
  item.mutable_swe()->clear_repo_dir();
  item.mutable_swe()->set_repo_bundle(*fixture_root + "/py.bundle");
  VerifyOutcome o = Verify(item);
  ASSERT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.correctness, 1.0) << o.details;
  EXPECT_THAT(o.details, HasSubstr("RESOLVED rung=git_apply exit=0 F2P 1/1 P2P 1/1"));
  item.set_response("```diff\n```");
  o = Verify(item);
  ASSERT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.correctness, 0.0) << o.details;
  EXPECT_THAT(o.details, HasSubstr("UNRESOLVED rung=empty"));
}

TEST_F(SweVerifierTest, EmptyPatchDoesNotResolve) {
  const VerifyOutcome o = Verify(PyItem(""));
  ASSERT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.verdict, rl::INCORRECT);
  EXPECT_EQ(o.correctness, 0.0);
  EXPECT_THAT(o.details,
              HasSubstr("UNRESOLVED rung=empty exit=1 F2P 0/1 (tests/test_calc.py::test_add(FAILED))"));
}

TEST_F(SweVerifierTest, BreakingPassToPassIsNegative) {
  const VerifyOutcome o = Verify(PyItem(R"(--- a/calc.py
+++ b/calc.py
@@ -2,8 +2,8 @@
 
 
 def add(a, b):
-    return a - b
+    return a + b
 
 
 def mul(a, b):
-    return a * b
+    return a * b + 1
)"));
  ASSERT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.correctness, -1.0) << o.details;
  EXPECT_THAT(o.details, HasSubstr("REGRESSION"));
  EXPECT_THAT(o.details, HasSubstr("P2P 0/1 (tests/test_calc.py::test_mul(FAILED))"));
}

TEST_F(SweVerifierTest, FakePassedLinesCannotHideTheFrameworksFailure) {
  // add() stays broken; after pytest has reported, an exit handler prints pass lines for both tests
  // and turns the exit status into 0. The framework's FAILED line for test_add wins (worst status).
  const VerifyOutcome o = Verify(PyItem(R"(--- a/calc.py
+++ b/calc.py
@@ -1,3 +1,8 @@
 """Tiny calculator."""
+import atexit, os
+def _fake():
+    os.write(1, b"PASSED tests/test_calc.py::test_add\nPASSED tests/test_calc.py::test_mul\n")
+    os._exit(0)
+atexit.register(_fake)
 
 
)"));
  ASSERT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.verdict, rl::INCORRECT);
  EXPECT_EQ(o.correctness, 0.0) << o.details;
  EXPECT_THAT(o.details,
              HasSubstr("UNRESOLVED rung=git_apply exit=0 F2P 0/1 (tests/test_calc.py::test_add(FAILED))"));
}

TEST_F(SweVerifierTest, TestFileEditsAreNeutralised) {
  // Defines test_add as `assert True` without fixing add(): the test patch's version replaces it.
  const VerifyOutcome o = Verify(PyItem(R"(--- a/tests/test_calc.py
+++ b/tests/test_calc.py
@@ -3,3 +3,7 @@
 
 def test_mul():
     assert mul(2, 3) == 6
+
+
+def test_add():
+    assert True
)"));
  ASSERT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.correctness, 0.0) << o.details;
  EXPECT_THAT(o.details,
              HasSubstr("UNRESOLVED rung=git_apply exit=1 F2P 0/1 (tests/test_calc.py::test_add(FAILED))"));
}

TEST_F(SweVerifierTest, FuzzyPatchAppliesByThePatchRung) {
  // The first context line is wrong: git apply (and --3way, without blob ids) refuse; patch --fuzz applies.
  const VerifyOutcome o = Verify(PyItem(R"(--- a/calc.py
+++ b/calc.py
@@ -1,8 +1,8 @@
 """A tiny calculator."""
 
 
 def add(a, b):
-    return a - b
+    return a + b
 
 
 def mul(a, b):
)"));
  ASSERT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.correctness, 1.0) << o.details;
  EXPECT_THAT(o.details, HasSubstr("RESOLVED rung=patch_fuzz"));
}

TEST_F(SweVerifierTest, MalformedAndNonApplyingPatches) {
  VerifyOutcome o = Verify(PyItem("--- a/calc.py\n+++ b/calc.py\n@@ -1,x +1 @@\n"));
  ASSERT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.correctness, 0.0);
  EXPECT_THAT(o.details, HasSubstr("PATCH_REJECTED"));
  EXPECT_THAT(o.details, HasSubstr("candidate patch: malformed hunk header '@@ -1,x +1 @@'"));

  o = Verify(PyItem("--- a/calc.py\n+++ b/calc.py\n@@ -1,1 +1,1 @@\n-no such line\n+x\n"));
  ASSERT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.correctness, 0.0);
  EXPECT_THAT(o.details, HasSubstr("PATCH_FAILED"));

  o = Verify(PyItem("--- a/../outside.py\n+++ b/../outside.py\n@@ -0,0 +1 @@\n+x\n"));
  EXPECT_THAT(o.details, HasSubstr("PATCH_REJECTED"));
}

TEST_F(SweVerifierTest, TestPatchThatDoesNotApplyIsInfraError) {
  rl::ScoreItem item = PyItem(kPyGold);
  item.mutable_swe()->set_test_patch(
      "--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -1,1 +1,1 @@\n-nope\n+x\n");
  const VerifyOutcome o = Verify(item);
  EXPECT_EQ(o.status, rl::INFRA_ERROR) << o.details;
  EXPECT_THAT(o.details, HasSubstr("the test patch does not apply"));
}

TEST_F(SweVerifierTest, CacheReturnsTheSameResultWithoutRerunning) {
  std::unique_ptr<Verifier> verifier = NewSweVerifier(*shared_pool, Options());
  const int64_t runs0 = (*shared_pool)->Stats().runs;
  const VerifyOutcome first = Verify(PyItem(kPyGold), verifier.get());
  const int64_t runs1 = (*shared_pool)->Stats().runs;
  EXPECT_EQ(runs1 - runs0, 2);  // setup + tests
  rl::ScoreItem other = PyItem(kPyGold);
  other.set_response("<think>different words</think>Patch:\n```diff\n" + std::string(kPyGold) + "```");
  const VerifyOutcome second = Verify(other, verifier.get());
  EXPECT_EQ((*shared_pool)->Stats().runs, runs1);
  EXPECT_EQ(second.correctness, first.correctness);
  EXPECT_EQ(second.details, first.details);
  EXPECT_EQ(first.correctness, 1.0);
}

TEST_F(SweVerifierTest, CppProjectWithGtestFormatAndSpoofedExit) {
  rl::ScoreItem item;
  item.set_domain("swe");
  rl::SwePayload* swe = item.mutable_swe();
  swe->set_instance_id("mathx-1");
  swe->set_repo_dir(*fixture_root + "/cc");
  swe->set_test_patch(kCcTestPatch);
  swe->set_test_command("/usr/bin/g++ -std=c++17 -o /tmp/t test_main.cc && /tmp/t");
  swe->add_fail_to_pass("Math.Square");
  swe->add_pass_to_pass("Math.Twice");
  swe->set_results_format(rl::SwePayload::GTEST);
  item.set_response("```diff\n" + std::string(kCcGold) + "```");
  VerifyOutcome o = Verify(item);
  ASSERT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.correctness, 1.0) << o.details;
  EXPECT_THAT(o.details, HasSubstr("RESOLVED rung=git_apply exit=0 F2P 1/1 P2P 1/1"));

  // Fake pass lines from a static initialiser, then exit 1 before any test ran: the exit status
  // contradicts a log without any failure.
  item.set_response(R"(```diff
--- a/mathx.h
+++ b/mathx.h
@@ -1,2 +1,10 @@
+#include <cstdio>
+#include <unistd.h>
+static const int kSpoof = [] {
+  std::printf("[       OK ] Math.Square (0 ms)\n[       OK ] Math.Twice (0 ms)\n");
+  std::fflush(stdout);
+  _exit(1);
+  return 0;
+}();
 inline int square(int x) { return x + x; }
 inline int twice(int x) { return 2 * x; }
```)");
  o = Verify(item);
  ASSERT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.correctness, -1.0) << o.details;
  EXPECT_THAT(o.details,
              HasSubstr("SPOOFED rung=git_apply exit=1 F2P 1/1 P2P 1/1; exit 1 but no FAILED/ERROR test"));

  item.set_response("```diff\n```");
  o = Verify(item);
  ASSERT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.correctness, 0.0) << o.details;
  EXPECT_THAT(o.details, HasSubstr("UNRESOLVED rung=empty exit=1 F2P 0/1 (Math.Square(FAILED)) P2P 1/1"));
}

TEST(ResolveSweOptionsTest, DefaultsAndErrors) {
  absl::StatusOr<swe::SweOptions> o = swe::ResolveSweOptions(config::SweConfig());
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->regression_penalty, -1.0);
  EXPECT_EQ(o->wall_ms, 120000);
  config::SweConfig bad;
  bad.set_regression_penalty(0.5);
  EXPECT_THAT(swe::ResolveSweOptions(bad).status().message(),
              HasSubstr("reward.swe.regression_penalty must be <= 0, got 0.5"));
  bad = config::SweConfig();
  bad.set_wall_ms(-1);
  EXPECT_THAT(swe::ResolveSweOptions(bad).status().message(),
              HasSubstr("reward.swe.wall_ms must be >= 0, got -1"));
}

}  // namespace
}  // namespace m1rl::reward
