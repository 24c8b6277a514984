// Metrics writers (ARCHITECTURE "Record"): one call per step with named scalar values.
//
//   M1RL_ASSIGN_OR_RETURN(auto jsonl, JsonlMetricsWriter::Open(dir + "/metrics.jsonl"));
//   M1RL_ASSIGN_OR_RETURN(auto tb, TensorBoardWriter::Open(dir));
//   MultiWriter all;
//   all.Add(std::move(jsonl));
//   all.Add(std::move(tb));
//   M1RL_RETURN_IF_ERROR(all.Write(step, {{"loss", 0.31}, {"clip_frac_high", 0.02}}));
//
// Formats:
//  - JSONL: one object per Write, `{"step":7,"time":1795000000.123,"loss":0.31,...}`; "time" is Unix
//    seconds; keys in std::map order after step and time. Non-finite values are written as null (JSON has
//    no NaN/Inf). A metric named "step" or "time" is an error (it would shadow the record's own keys).
//  - TensorBoard: `events.out.tfevents.<unix-secs>.<hostname>` in the given directory, TFRecord framing
//    (uint64 length, masked CRC32C of the length, data, masked CRC32C of the data; little-endian), the
//    first record an Event with file_version "brain.Event:2", then one Event per Write holding one
//    Summary simple_value (float) per metric. WriteText: an Event with one value holding a scalar string
//    tensor (DT_STRING) and plugin_name "text", which TensorBoard's text dashboard renders as markdown.
// Writers flush after every Write so a crashed run keeps its metrics; metrics are a few lines per step.
//
// Thread safety: a writer is not thread-safe; callers (the trainer's rank 0) serialise calls.
// Errors: I/O failures are kInternal / kNotFound naming the file; bad metric names kInvalidArgument.
#ifndef M1RL_COMMON_METRICS_H_
#define M1RL_COMMON_METRICS_H_

#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace m1rl {

class MetricsWriter {
 public:
  virtual ~MetricsWriter() = default;
  // Records `values` for `step`. Steps need not be increasing (a resumed run may rewrite steps).
  virtual absl::Status Write(int64_t step, const std::map<std::string, double>& values) = 0;
  // Records a text (markdown) value under `tag` for `step`. Writers without a text view (JSONL: scalars
  // only; the trainer keeps its samples in samples.jsonl) ignore it and return OK.
  virtual absl::Status WriteText(int64_t /*step*/, const std::string& /*tag*/, const std::string& /*text*/) {
    return absl::OkStatus();
  }
  // Flushes buffered data to the OS.
  virtual absl::Status Flush() = 0;
};

// Seconds since the Unix epoch; injectable so tests get fixed timestamps.
using WallClockFn = std::function<double()>;
double UnixSecondsNow();

class JsonlMetricsWriter : public MetricsWriter {
 public:
  // Opens (creating, or appending to when `append`) the file at `path`. Its directory must exist.
  static absl::StatusOr<std::unique_ptr<JsonlMetricsWriter>> Open(const std::string& path, bool append = true,
                                                                  WallClockFn clock = UnixSecondsNow);
  absl::Status Write(int64_t step, const std::map<std::string, double>& values) override;
  absl::Status Flush() override;
  const std::string& path() const { return path_; }

 private:
  JsonlMetricsWriter(std::string path, WallClockFn clock)
      : path_(std::move(path)), clock_(std::move(clock)) {}
  std::string path_;
  WallClockFn clock_;
  std::ofstream out_;
};

struct TensorBoardOptions {
  WallClockFn clock = UnixSecondsNow;
  std::string hostname;  // empty: gethostname()
};

class TensorBoardWriter : public MetricsWriter {
 public:
  // Creates `dir` (and parents) if needed and a new event file in it; writes the file_version record.
  static absl::StatusOr<std::unique_ptr<TensorBoardWriter>> Open(const std::string& dir,
                                                                 const TensorBoardOptions& options = {});
  absl::Status Write(int64_t step, const std::map<std::string, double>& values) override;
  absl::Status WriteText(int64_t step, const std::string& tag, const std::string& text) override;
  absl::Status Flush() override;
  // The event file's full path.
  const std::string& path() const { return path_; }

 private:
  TensorBoardWriter(std::string path, WallClockFn clock) : path_(std::move(path)), clock_(std::move(clock)) {}
  absl::Status WriteRecord(const std::string& data);
  std::string path_;
  WallClockFn clock_;
  std::ofstream out_;
};

// Fans every call out to all added writers. Every writer is called even if an earlier one fails; the
// first error is returned.
class MultiWriter : public MetricsWriter {
 public:
  void Add(std::unique_ptr<MetricsWriter> writer);
  size_t size() const { return writers_.size(); }
  absl::Status Write(int64_t step, const std::map<std::string, double>& values) override;
  absl::Status WriteText(int64_t step, const std::string& tag, const std::string& text) override;
  absl::Status Flush() override;

 private:
  std::vector<std::unique_ptr<MetricsWriter>> writers_;
};

// TFRecord framing of one record: [len u64 LE][masked crc32c(len) u32 LE][data][masked crc32c(data) u32 LE].
std::string EncodeTfRecord(std::string_view data);

// Reads every record of a TFRecord file, verifying both CRCs of each. Errors (kDataLoss) name the file,
// the record index and the byte offset: truncated header/data, length CRC or data CRC mismatch.
absl::StatusOr<std::vector<std::string>> ReadTfRecords(const std::string& path);

}  // namespace m1rl

#endif  // M1RL_COMMON_METRICS_H_
