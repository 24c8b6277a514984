// Trainer-private helpers around c10d that differ between LibTorch 1.13 and 2.x, kept tiny.
// 1.13: ProcessGroupGloo derives from ProcessGroup; 2.x: from Backend. Both expose allreduce,
// allgather, broadcast and barrier with the same signatures, so the communicator is written once
// as a template over the group type; only the hostname lookup lives here.
#ifndef M1RL_TRAINER_INTERNAL_C10D_COMPAT_H_
#define M1RL_TRAINER_INTERNAL_C10D_COMPAT_H_

#include <unistd.h>

#include <string>

namespace m1rl::trainer::internal {

inline std::string LocalHostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "127.0.0.1";
  return std::string(buf);
}

}  // namespace m1rl::trainer::internal

#endif  // M1RL_TRAINER_INTERNAL_C10D_COMPAT_H_
