#include "common/file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl {
namespace {

namespace fs = std::filesystem;
using ::m1rl::testing::IsOk;
using ::m1rl::testing::IsOkAndHolds;
using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

std::string TempDir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("m1rl_file_test_", name, "_", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

TEST(FileTest, WriteFileAtomicReplacesAndLeavesNoTempFile) {
  const std::string dir = TempDir("atomic");
  const std::string path = dir + "/f.bin";
  const std::string binary("a\0b\xff", 4);
  ASSERT_THAT(WriteFileAtomic(path, "old contents"), IsOk());
  ASSERT_THAT(WriteFileAtomic(path, binary), IsOk());
  EXPECT_THAT(ReadFile(path), IsOkAndHolds(binary));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  ASSERT_THAT(WriteFileAtomic(path, [](std::ostream& out) { out << "x=" << 42; }), IsOk());
  EXPECT_THAT(ReadFile(path), IsOkAndHolds(std::string("x=42")));
  fs::remove_all(dir);
}

TEST(FileTest, WriteFileAtomicIntoMissingDirectoryNamesThePath) {
  const std::string path = TempDir("nodir") + "/no/such/dir/f";
  EXPECT_THAT(WriteFileAtomic(path, "x"), StatusIs(absl::StatusCode::kInternal, HasSubstr(path)));
}

TEST(FileTest, MappedFileSeesTheBytesAndMovesOwnership) {
  const std::string dir = TempDir("map");
  const std::string path = dir + "/m.bin";
  std::string contents(10000, '\0');
  for (size_t i = 0; i < contents.size(); ++i) contents[i] = static_cast<char>(i * 7 % 251);
  ASSERT_THAT(WriteFileAtomic(path, contents), IsOk());
  M1RL_ASSERT_OK_AND_ASSIGN(MappedFile m, MappedFile::Open(path));
  EXPECT_EQ(m.size(), contents.size());
  EXPECT_EQ(m.data(), contents);
  EXPECT_EQ(m.path(), path);
  MappedFile moved = std::move(m);
  EXPECT_EQ(moved.data(), contents);
  EXPECT_EQ(m.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from state is specified

  ASSERT_THAT(WriteFileAtomic(dir + "/empty", ""), IsOk());
  M1RL_ASSERT_OK_AND_ASSIGN(MappedFile empty, MappedFile::Open(dir + "/empty"));
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_TRUE(empty.data().empty());
  fs::remove_all(dir);
}

TEST(FileTest, MissingFilesAreNotFoundNamingThePath) {
  const std::string path = TempDir("missing") + "/absent.bin";
  EXPECT_THAT(ReadFile(path).status(), StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
  EXPECT_THAT(MappedFile::Open(path).status(), StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
}

}  // namespace
}  // namespace m1rl
