// Progress display for long loops (generation, scoring, evaluation): count, rate, ETA.
//
//   Progress p("generate", total_tokens, "tok");
//   for (...) { ...; p.Update(done, absl::StrCat("seqs ", n)); }
//   p.Finish();
//
// Two modes, chosen once at construction:
//  - interactive (stderr is a terminal): one line redrawn in place ("\r...\x1b[K"), at most every
//    `redraw_interval_s`, with a bar when the total is known; Finish() ends the line with "\n".
//  - plain (a file, a pipe, a CI log): a full line every `plain_interval_s` seconds, so logs stay short
//    and greppable, plus a final summary line from Finish().
// While an interactive line is on std::cerr, M1RL_LOG lines clear it first (SetLogLineInPlace), so
// log output and the bar do not run together.
// Line contents: `<label> <done>/<total> <unit> (<pct>%) <rate> <unit>/s ETA <h:mm:ss> | <extra>`;
// with total <= 0 (unknown) there is no total, percentage, bar or ETA. The rate is the average since
// construction; ETA = remaining / rate ("?" until the rate is positive).
//
// Thread safety: all methods are serialised by an internal mutex, so worker threads may call Update().
// The output stream must outlive the Progress.
#ifndef M1RL_COMMON_PROGRESS_H_
#define M1RL_COMMON_PROGRESS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace m1rl {

struct ProgressOptions {
  std::ostream* out = nullptr;      // nullptr: std::cerr
  std::optional<bool> interactive;  // unset: true iff `out` is std::cerr and stderr is a terminal
  double plain_interval_s = 10.0;   // plain mode: seconds between lines
  double redraw_interval_s = 0.2;   // interactive mode: seconds between redraws
  int bar_width = 24;               // interactive mode, known total only
  std::function<double()> now_s;    // monotonic seconds; unset: std::chrono::steady_clock
};

class Progress {
 public:
  // `total` <= 0 means unknown. `unit` names what is counted ("tok", "seq", "prompt").
  Progress(std::string label, int64_t total, std::string unit, ProgressOptions options = {});
  // Calls Finish() if it was not called.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Sets the count to `done` (absolute, not a delta) and may print, per the mode's interval.
  // `extra` is appended after " | " (empty: nothing).
  void Update(int64_t done, const std::string& extra = "");
  // Update(current + delta, extra).
  void Add(int64_t delta, const std::string& extra = "");
  // Prints the final line "<label> done <done>[/<total>] <unit> in <time> (<rate> <unit>/s)[ | extra]".
  // Later calls do nothing.
  void Finish(const std::string& extra = "");

  int64_t done() const;
  // Average rate since construction in units per second (0 before any time has passed).
  double Rate() const;
  // Seconds left at the current rate; nullopt if the total is unknown or the rate is not positive.
  std::optional<double> EtaSeconds() const;

  // "12s", "3:07", "1:02:03" style durations (rounded down to whole seconds).
  static std::string FormatDuration(double seconds);
  // A rate with 3 significant digits and k/M suffixes: 0.50, 35.2, 1.23k, 4.56M.
  static std::string FormatRate(double per_second);

 private:
  double Now() const;
  void UpdateLocked(double now, int64_t done, const std::string& extra) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  double RateLocked(double now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::optional<double> EtaLocked(double now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::string StatusLineLocked(double now, const std::string& extra, bool with_bar) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void EmitLocked(const std::string& line, bool in_place) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string label_;
  const int64_t total_;
  const std::string unit_;
  std::ostream* out_;
  bool interactive_;
  double plain_interval_s_;
  double redraw_interval_s_;
  int bar_width_;
  std::function<double()> now_s_;

  double start_s_;  // set once in the constructor
  mutable absl::Mutex mu_;
  double last_print_s_ ABSL_GUARDED_BY(mu_);
  int64_t done_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace m1rl

#endif  // M1RL_COMMON_PROGRESS_H_
