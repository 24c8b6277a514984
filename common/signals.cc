#include "common/signals.h"

#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/debugging/failure_signal_handler.h"
#include "absl/debugging/stacktrace.h"
#include "absl/debugging/symbolize.h"
#include "absl/strings/str_cat.h"

namespace m1rl {
namespace {

// Invariant: only ever 0 or the first stop signal; written by the handler, read by the polling thread.
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the stop handler needs a lock-free atomic");

// Fixed messages: the handler may only call async-signal-safe functions (write(2), no formatting).
constexpr char kTermMessage[] = "m1rl: SIGTERM received: stopping cleanly (a second one exits at once)\n";
constexpr char kIntMessage[] = "m1rl: SIGINT received: stopping cleanly (a second one exits at once)\n";

void OnStopSignal(int sig) {
  const int saved_errno = errno;  // write(2) may change errno under the interrupted code
  int expected = 0;
  if (g_stop_signal.compare_exchange_strong(expected, sig)) {
    const char* msg = sig == SIGTERM ? kTermMessage : kIntMessage;
    const size_t len = sig == SIGTERM ? sizeof(kTermMessage) - 1 : sizeof(kIntMessage) - 1;
    // Best effort: nothing useful can be done in a handler when stderr is gone.
    const ssize_t written = ::write(STDERR_FILENO, msg, len);
    (void)written;
  }
  errno = saved_errno;
}

// absl's x86-64 unwinder follows frame pointers, which -O2 code omits: a crash in our code showed one
// frame. glibc's backtrace() unwinds with the .eh_frame tables (through the signal frame too). It is
// async-signal-safe once libgcc_s is loaded, which the warm-up call in InstallFailureSignalHandler does.
int EhFrameUnwinder(void** pcs, int* sizes, int max_depth, int skip_count, const void* /*uc*/,
                    int* min_dropped_frames) {
  constexpr int kMaxFrames = 128;
  void* frames[kMaxFrames];
  const int size = ::backtrace(frames, kMaxFrames);
  const int skip = std::min(size, skip_count + 1);  // + this frame
  const int count = std::min(size - skip, max_depth);
  for (int i = 0; i < count; ++i) {
    pcs[i] = frames[skip + i];
    if (sizes != nullptr) sizes[i] = 0;
  }
  if (min_dropped_frames != nullptr) *min_dropped_frames = size - skip - count;
  return count;
}

}  // namespace

void InstallFailureSignalHandler(const char* argv0) {
  struct sigaction term_before {};
  struct sigaction int_before {};
  sigaction(SIGTERM, nullptr, &term_before);
  sigaction(SIGINT, nullptr, &int_before);
  absl::InitializeSymbolizer(argv0);
  void* warm_up[1];
  ::backtrace(warm_up, 1);
  absl::SetStackUnwinder(EhFrameUnwinder);
  absl::FailureSignalHandlerOptions options;
  absl::InstallFailureSignalHandler(options);
  // absl claims SIGTERM as a failure signal; a termination request is not a crash.
  sigaction(SIGTERM, &term_before, nullptr);
  sigaction(SIGINT, &int_before, nullptr);
}

absl::Status InstallStopSignalHandlers() {
  for (const int sig : {SIGTERM, SIGINT}) {
    struct sigaction action {};
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    // SA_RESETHAND: the second signal gets the default action (terminate). SA_RESTART: a blocking read
    // or write under the interrupted thread resumes instead of failing with EINTR.
    action.sa_flags = SA_RESETHAND | SA_RESTART;
    if (sigaction(sig, &action, nullptr) != 0) {
      return absl::InternalError(
          absl::StrCat("installing the ", SignalName(sig), " handler: ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

int StopSignalReceived() { return g_stop_signal.load(); }

void ResetStopSignalForTesting() { g_stop_signal.store(0); }

std::string SignalName(int sig) {
  switch (sig) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGSEGV:
      return "SIGSEGV";
    case SIGABRT:
      return "SIGABRT";
    case SIGKILL:
      return "SIGKILL";
    default:
      return absl::StrCat("signal ", sig);
  }
}

}  // namespace m1rl
