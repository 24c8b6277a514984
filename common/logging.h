// Leveled logging to stderr with a rank prefix (ARCHITECTURE "Record"). For invariants use
// common/check.h; for expected failures return absl::Status. This is for humans reading a run.
//
//   SetLogRank(rank);                      // once, after the distributed set-up
//   SetMinLogLevel(LogLevel::kWarning);    // drop INFO
//   M1RL_LOG(INFO) << "step " << step << " loss " << loss;
//   M1RL_LOG(WARNING) << "top_p < 1 in an RL run";
//   M1RL_LOG(ERROR) << status;
//
// Line format (one write per message, so lines from different threads never interleave):
//   I20261122 22:10:31.123456 r3 trainer.cc:42] step 7 loss 0.31
// severity letter (I/W/E), local date and time with microseconds, "r<rank>" (omitted while the rank is
// unset, i.e. negative), source file basename and line, then the message. A message spanning several
// lines is written as is after the prefix.
//
// Thread safety: every function here may be called from any thread at any time. Messages below the
// minimum level cost one atomic load; the streamed expressions are not evaluated.
#ifndef M1RL_COMMON_LOGGING_H_
#define M1RL_COMMON_LOGGING_H_

#include <ostream>
#include <sstream>
#include <string>

namespace m1rl {

enum class LogLevel : int { kInfo = 0, kWarning = 1, kError = 2 };

// The rank shown in the prefix; negative hides it (the default).
void SetLogRank(int rank);
int GetLogRank();

// Messages below `level` are dropped. Default kInfo.
void SetMinLogLevel(LogLevel level);
LogLevel GetMinLogLevel();

// Test seam: sends log lines to `sink` instead of std::cerr; nullptr restores std::cerr. The sink must
// outlive its use; writes to it are serialised by the logging mutex.
void SetLogSinkForTesting(std::ostream* sink);

// Coordination with displays that redraw one line in place on stderr (common/progress.h): while set,
// every log line starts with "\r\x1b[K" (carriage return, clear to end of line), so it replaces the
// half-drawn line instead of being appended to it; the display redraws itself on its next update.
// Progress sets it while its interactive line is on screen. Default false.
void SetLogLineInPlace(bool active);
bool GetLogLineInPlace();

// Parses "info" / "warning" / "error" (any case). Returns false on anything else.
bool ParseLogLevel(const std::string& text, LogLevel* level);

namespace internal {

bool ShouldLog(LogLevel level);

// Accumulates one message and writes it, prefixed, when destroyed.
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream stream_;
};

// Lets `cond ? (void)0 : LogVoidify() & stream` type-check.
struct LogVoidify {
  void operator&(std::ostream&) {}
};

inline constexpr LogLevel kLogSeverity_INFO = LogLevel::kInfo;
inline constexpr LogLevel kLogSeverity_WARNING = LogLevel::kWarning;
inline constexpr LogLevel kLogSeverity_ERROR = LogLevel::kError;

}  // namespace internal
}  // namespace m1rl

#define M1RL_LOG(severity)                                                                              \
  !::m1rl::internal::ShouldLog(::m1rl::internal::kLogSeverity_##severity)                               \
      ? (void)0                                                                                         \
      : ::m1rl::internal::LogVoidify() &                                                                \
            ::m1rl::internal::LogMessage(::m1rl::internal::kLogSeverity_##severity, __FILE__, __LINE__) \
                .stream()

#endif  // M1RL_COMMON_LOGGING_H_
