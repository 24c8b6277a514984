#include "common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"

namespace m1rl {

Progress::Progress(std::string label, int64_t total, std::string unit, ProgressOptions options)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      out_(options.out != nullptr ? options.out : &std::cerr),
      plain_interval_s_(options.plain_interval_s),
      redraw_interval_s_(options.redraw_interval_s),
      bar_width_(std::max(options.bar_width, 1)),
      now_s_(std::move(options.now_s)) {
  if (options.interactive.has_value()) {
    interactive_ = *options.interactive;
  } else {
    interactive_ = out_ == &std::cerr && isatty(STDERR_FILENO) == 1;
  }
  start_s_ = Now();
  absl::MutexLock lock(&mu_);
  last_print_s_ = start_s_;
}

Progress::~Progress() { Finish(); }

double Progress::Now() const {
  if (now_s_) return now_s_();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void Progress::Update(int64_t done, const std::string& extra) {
  const double now = Now();
  absl::MutexLock lock(&mu_);
  UpdateLocked(now, done, extra);
}

void Progress::Add(int64_t delta, const std::string& extra) {
  const double now = Now();
  absl::MutexLock lock(&mu_);
  UpdateLocked(now, done_ + delta, extra);  // read and write under one lock: concurrent Adds all count
}

void Progress::UpdateLocked(double now, int64_t done, const std::string& extra) {
  if (finished_) return;
  done_ = done;
  const double interval = interactive_ ? redraw_interval_s_ : plain_interval_s_;
  if (now - last_print_s_ < interval) return;
  last_print_s_ = now;
  EmitLocked(StatusLineLocked(now, extra, interactive_), interactive_);
}

void Progress::Finish(const std::string& extra) {
  const double now = Now();
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  finished_ = true;
  std::string line = absl::StrCat(label_, " done ", done_);
  if (total_ > 0) absl::StrAppend(&line, "/", total_);
  absl::StrAppend(&line, " ", unit_, " in ", FormatDuration(now - start_s_), " (",
                  FormatRate(RateLocked(now)), " ", unit_, "/s)");
  if (!extra.empty()) absl::StrAppend(&line, " | ", extra);
  EmitLocked(line, interactive_);
  if (interactive_) {
    *out_ << "\n";
    if (out_ == &std::cerr) SetLogLineInPlace(false);
  }
  out_->flush();
}

int64_t Progress::done() const {
  absl::MutexLock lock(&mu_);
  return done_;
}

double Progress::Rate() const {
  const double now = Now();
  absl::MutexLock lock(&mu_);
  return RateLocked(now);
}

std::optional<double> Progress::EtaSeconds() const {
  const double now = Now();
  absl::MutexLock lock(&mu_);
  return EtaLocked(now);
}

double Progress::RateLocked(double now) const {
  const double elapsed = now - start_s_;
  if (elapsed <= 0) return 0.0;
  return static_cast<double>(done_) / elapsed;
}

std::optional<double> Progress::EtaLocked(double now) const {
  if (total_ <= 0) return std::nullopt;
  const double rate = RateLocked(now);
  if (!(rate > 0)) return std::nullopt;
  return static_cast<double>(std::max<int64_t>(total_ - done_, 0)) / rate;
}

std::string Progress::StatusLineLocked(double now, const std::string& extra, bool with_bar) const {
  std::string line = label_;
  if (total_ > 0) {
    const double frac = std::clamp(static_cast<double>(done_) / static_cast<double>(total_), 0.0, 1.0);
    if (with_bar) {
      const int filled = static_cast<int>(std::floor(frac * bar_width_));
      absl::StrAppend(&line, " [", std::string(filled, '#'), std::string(bar_width_ - filled, '.'), "]");
    }
    absl::StrAppend(&line, " ", done_, "/", total_, " ", unit_, absl::StrFormat(" (%.1f%%)", 100.0 * frac));
  } else {
    absl::StrAppend(&line, " ", done_, " ", unit_);
  }
  absl::StrAppend(&line, " ", FormatRate(RateLocked(now)), " ", unit_, "/s");
  if (total_ > 0) {
    const std::optional<double> eta = EtaLocked(now);
    absl::StrAppend(&line, " ETA ", eta.has_value() ? FormatDuration(*eta) : "?");
  }
  if (!extra.empty()) absl::StrAppend(&line, " | ", extra);
  return line;
}

void Progress::EmitLocked(const std::string& line, bool in_place) {
  if (in_place) {
    // "\x1b[K" clears what a longer previous line left on screen.
    *out_ << "\r" << line << "\x1b[K";
    // Log lines on the same stream must clear this line rather than append to it.
    if (out_ == &std::cerr) SetLogLineInPlace(true);
  } else {
    *out_ << line << "\n";
  }
  out_->flush();
}

std::string Progress::FormatDuration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "?";
  const int64_t s = static_cast<int64_t>(std::floor(seconds));
  const int64_t h = s / 3600, m = (s / 60) % 60, sec = s % 60;
  if (h > 0) return absl::StrFormat("%d:%02d:%02d", h, m, sec);
  if (m > 0) return absl::StrFormat("%d:%02d", m, sec);
  return absl::StrCat(sec, "s");
}

std::string Progress::FormatRate(double per_second) {
  if (!std::isfinite(per_second)) return "?";
  const char* suffix = "";
  double v = per_second;
  if (std::fabs(v) >= 1e6) {
    v /= 1e6;
    suffix = "M";
  } else if (std::fabs(v) >= 1e3) {
    v /= 1e3;
    suffix = "k";
  }
  // Three significant digits.
  const double a = std::fabs(v);
  const int decimals = a >= 100 ? 0 : (a >= 10 ? 1 : 2);
  return absl::StrCat(absl::StrFormat("%.*f", decimals, v), suffix);
}

}  // namespace m1rl
