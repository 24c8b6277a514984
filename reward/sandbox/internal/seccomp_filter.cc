#include "reward/sandbox/internal/seccomp_filter.h"

#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace m1rl::reward::sandbox::internal {
namespace {

absl::Status SeccompError(const char* call, int rc) {
  return absl::InternalError(absl::StrCat("sandbox seccomp: ", call, " failed: ", std::strerror(-rc)));
}

// Reads back what seccomp_export_bpf wrote to `fd`.
absl::StatusOr<std::string> ReadAll(int fd) {
  if (lseek(fd, 0, SEEK_SET) != 0) return absl::InternalError("sandbox seccomp: lseek on the memfd failed");
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("sandbox seccomp: read: ", std::strerror(errno)));
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

const std::vector<std::string>& DeniedSyscalls() {
  static const std::vector<std::string> kDenied = {
      "ptrace",
      "process_vm_readv",
      "process_vm_writev",
      "mount",
      "umount2",
      "pivot_root",
      "move_mount",
      "open_tree",
      "fsopen",
      "fsmount",
      "fsconfig",
      "bpf",
      "perf_event_open",
      "keyctl",
      "add_key",
      "request_key",
      "kexec_load",
      "kexec_file_load",
      "init_module",
      "finit_module",
      "delete_module",
      "io_uring_setup",
      "io_uring_enter",
      "io_uring_register",
      "unshare",
      "setns",
      "swapon",
      "swapoff",
      "reboot",
      "acct",
      "userfaultfd",
      "open_by_handle_at",
      "quotactl",
      "syslog",
      "personality",
      "lookup_dcookie",
      "vhangup",
  };
  return kDenied;
}

absl::StatusOr<std::string> BuildSeccompBpf() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return absl::InternalError("sandbox seccomp: seccomp_init failed");
  absl::Status status;
  for (const std::string& name : DeniedSyscalls()) {
    const int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0); rc < 0) {
      status = SeccompError(absl::StrCat("seccomp_rule_add(", name, ")").c_str(), rc);
      break;
    }
  }
  // TIOCSTI pushes input into the controlling terminal (escapes via the parent's tty).
  if (status.ok()) {
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
        rc < 0) {
      status = SeccompError("seccomp_rule_add(ioctl TIOCSTI)", rc);
    }
  }
  absl::StatusOr<std::string> bpf = absl::InternalError("sandbox seccomp: filter not exported");
  if (!status.ok()) {
    bpf = status;
  } else if (const int fd = memfd_create("m1rl-seccomp-export", MFD_CLOEXEC); fd < 0) {
    bpf = absl::InternalError(absl::StrCat("sandbox seccomp: memfd_create: ", std::strerror(errno)));
  } else {
    const int rc = seccomp_export_bpf(ctx, fd);
    bpf = rc < 0 ? absl::StatusOr<std::string>(SeccompError("seccomp_export_bpf", rc)) : ReadAll(fd);
    close(fd);
  }
  seccomp_release(ctx);
  return bpf;
}

absl::StatusOr<int> SeccompMemfd(const std::string& bpf) {
  const int fd = memfd_create("m1rl-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("sandbox seccomp: memfd_create: ", std::strerror(errno)));
  size_t off = 0;
  while (off < bpf.size()) {
    ssize_t n = write(fd, bpf.data() + off, bpf.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return absl::InternalError(absl::StrCat("sandbox seccomp: write to memfd: ", std::strerror(errno)));
    }
    off += static_cast<size_t>(n);
  }
  if (lseek(fd, 0, SEEK_SET) != 0) {
    close(fd);
    return absl::InternalError("sandbox seccomp: lseek on the memfd failed");
  }
  return fd;
}

}  // namespace m1rl::reward::sandbox::internal
