#include "reward/sandbox/work_dir.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

namespace m1rl::reward::sandbox {

absl::StatusOr<std::unique_ptr<WorkDir>> WorkDir::Create(const std::string& prefix,
                                                         const std::vector<Subdir>& subdirs) {
  std::string tmpl = absl::StrCat("/tmp/m1rl-", prefix, "-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr)
    return absl::InternalError(absl::StrCat(prefix, ": mkdtemp ", tmpl, ": ", std::strerror(errno)));
  std::unique_ptr<WorkDir> dir(new WorkDir(tmpl, prefix));
  bool ok = chmod(tmpl.c_str(), 0711) == 0;
  for (const Subdir& s : subdirs) {
    const std::string sub = dir->Path(s.name);
    ok = ok && mkdir(sub.c_str(), s.mode) == 0 && chmod(sub.c_str(), s.mode) == 0;
  }
  if (!ok) return absl::InternalError(absl::StrCat(prefix, ": preparing ", tmpl, ": ", std::strerror(errno)));
  return dir;
}

WorkDir::~WorkDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

absl::Status WorkDir::WriteFile(const std::string& subdir, const std::string& name,
                                std::string_view text) const {
  const std::string file = Path(subdir) + "/" + name;
  std::ofstream f(file, std::ios::binary);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  f.close();
  if (!f || chmod(file.c_str(), 0644) != 0)
    return absl::InternalError(absl::StrCat(prefix_, ": writing ", file));
  return absl::OkStatus();
}

}  // namespace m1rl::reward::sandbox
