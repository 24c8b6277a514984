// A private host directory for one sandboxed run (code and SWE checks): /tmp/m1rl-<prefix>-XXXXXX with
// named subdirectories to bind into the sandbox, removed with everything in it on destruction.
//
//   M1RL_ASSIGN_OR_RETURN(auto dir, WorkDir::Create("code", {{"src", 0755}, {"out", 0755}}));
//   M1RL_RETURN_IF_ERROR(dir->WriteFile("src", "main.py", source));
//   spec.mounts = {{dir->Path("src"), "/src", false}, {dir->Path("out"), "/out", true}};
#ifndef M1RL_REWARD_SANDBOX_WORK_DIR_H_
#define M1RL_REWARD_SANDBOX_WORK_DIR_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace m1rl::reward::sandbox {

class WorkDir {
 public:
  struct Subdir {
    std::string name;
    mode_t mode;  // set exactly (chmod after mkdir, so the umask does not narrow it)
  };
  // Under /tmp (mode 1777), not $TMPDIR: the sandbox's uid must reach the directory to bind it. The
  // directory itself is 0711 (the sandbox's uid traverses it but cannot list it). Errors start with
  // "<prefix>: " and name the path.
  static absl::StatusOr<std::unique_ptr<WorkDir>> Create(const std::string& prefix,
                                                         const std::vector<Subdir>& subdirs);
  ~WorkDir();
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;

  std::string Path(const std::string& subdir) const { return path_ + "/" + subdir; }
  // `text` into subdir/name, mode 0644.
  absl::Status WriteFile(const std::string& subdir, const std::string& name, std::string_view text) const;

 private:
  WorkDir(std::string path, std::string prefix) : path_(std::move(path)), prefix_(std::move(prefix)) {}
  std::string path_;
  std::string prefix_;
};

}  // namespace m1rl::reward::sandbox

#endif  // M1RL_REWARD_SANDBOX_WORK_DIR_H_
