#include "common/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"

namespace m1rl {
namespace {

std::atomic<int> g_rank{-1};
std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_line_in_place{false};

ABSL_CONST_INIT absl::Mutex g_sink_mu(absl::kConstInit);
std::ostream* g_sink ABSL_GUARDED_BY(g_sink_mu) = nullptr;

char SeverityLetter(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return 'I';
    case LogLevel::kWarning:
      return 'W';
    case LogLevel::kError:
      return 'E';
  }
  return '?';
}

const char* Basename(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash == nullptr ? path : slash + 1;
}

}  // namespace

void SetLogRank(int rank) { g_rank.store(rank, std::memory_order_relaxed); }
int GetLogRank() { return g_rank.load(std::memory_order_relaxed); }

void SetMinLogLevel(LogLevel level) { g_min_level.store(static_cast<int>(level), std::memory_order_relaxed); }
LogLevel GetMinLogLevel() { return static_cast<LogLevel>(g_min_level.load(std::memory_order_relaxed)); }

void SetLogSinkForTesting(std::ostream* sink) {
  absl::MutexLock lock(&g_sink_mu);
  g_sink = sink;
}

void SetLogLineInPlace(bool active) { g_line_in_place.store(active, std::memory_order_relaxed); }
bool GetLogLineInPlace() { return g_line_in_place.load(std::memory_order_relaxed); }

bool ParseLogLevel(const std::string& text, LogLevel* level) {
  const std::string t = absl::AsciiStrToLower(text);
  if (t == "info") {
    *level = LogLevel::kInfo;
  } else if (t == "warning") {
    *level = LogLevel::kWarning;
  } else if (t == "error") {
    *level = LogLevel::kError;
  } else {
    return false;
  }
  return true;
}

namespace internal {

bool ShouldLog(LogLevel level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

LogMessage::LogMessage(LogLevel level, const char* file, int line)
    : level_(level), file_(file), line_(line) {}

LogMessage::~LogMessage() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const long micros = static_cast<long>(
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char prefix[64];
  std::snprintf(prefix, sizeof(prefix), "%c%04d%02d%02d %02d:%02d:%02d.%06ld", SeverityLetter(level_),
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
  std::string text = GetLogLineInPlace() ? "\r\x1b[K" : "";
  text += prefix;
  const int rank = GetLogRank();
  if (rank >= 0) {
    text += " r";
    text += std::to_string(rank);
  }
  text += ' ';
  text += Basename(file_);
  text += ':';
  text += std::to_string(line_);
  text += "] ";
  text += stream_.str();
  text += '\n';
  absl::MutexLock lock(&g_sink_mu);
  std::ostream& out = g_sink != nullptr ? *g_sink : std::cerr;
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.flush();
}

}  // namespace internal
}  // namespace m1rl
