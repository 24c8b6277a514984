#include "reward/swe/diff_paths.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::reward::swe {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(InspectDiffTest, PathsFromHeadersRenamesAndNewFiles) {
  // The removed line "-- x" and the added line "++ y" inside the hunk are body lines, not headers.
  constexpr const char kDiff[] = R"(diff --git a/src/calc.py b/src/calc.py
--- a/src/calc.py	2020-01-01 00:00:00
+++ b/src/calc.py	2020-01-01 00:00:00
@@ -1,3 +1,3 @@
 def add(a, b):
--- x
+++ y
     return a + b
diff --git a/old.txt b/new.txt
rename from old.txt
rename to new.txt
diff --git a/tests/test_new.py b/tests/test_new.py
new file mode 100644
--- /dev/null
+++ b/tests/test_new.py
@@ -0,0 +1 @@
+def test_x(): pass
)";
  absl::StatusOr<DiffInfo> info = InspectDiff(kDiff, "candidate patch");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(info->paths, ElementsAre("new.txt", "old.txt", "src/calc.py", "tests/test_new.py"));
  EXPECT_EQ(info->hunks, 2);
  EXPECT_FALSE(info->binary);
}

TEST(InspectDiffTest, RejectsEscapesGitDirAndBadHunks) {
  EXPECT_THAT(
      InspectDiff("--- a/../etc/passwd\n+++ b/../etc/passwd\n", "candidate patch").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("candidate patch: path '../etc/passwd'")));
  EXPECT_THAT(InspectDiff("--- /etc/passwd\n", "x").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is absolute")));
  EXPECT_THAT(InspectDiff("--- a/.git/hooks/pre-commit\n", "x").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lies under .git/")));
  EXPECT_THAT(InspectDiff("--- a/x\n+++ b/x\n@@ -1,z +1 @@\n", "item.swe.test_patch").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("item.swe.test_patch: malformed hunk")));
  absl::StatusOr<DiffInfo> bin = InspectDiff("diff --git a/x.bin b/x.bin\nGIT binary patch\n", "x");
  ASSERT_TRUE(bin.ok());
  EXPECT_TRUE(bin->binary);
}

}  // namespace
}  // namespace m1rl::reward::swe
