#include "common/metrics.h"

#include <unistd.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "nlohmann/json.hpp"
#include "proto/tensorboard.pb.h"

namespace m1rl {
namespace {

void AppendLe(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}

uint64_t ReadLe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

std::string Hostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

double UnixSecondsNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// ---------------------------------------------------------------------------------------------- JSONL

absl::StatusOr<std::unique_ptr<JsonlMetricsWriter>> JsonlMetricsWriter::Open(const std::string& path,
                                                                             bool append, WallClockFn clock) {
  std::unique_ptr<JsonlMetricsWriter> w(new JsonlMetricsWriter(path, std::move(clock)));
  w->out_.open(path, append ? std::ios::out | std::ios::app : std::ios::out | std::ios::trunc);
  if (!w->out_.is_open()) {
    return absl::NotFoundError(absl::StrCat("cannot open metrics file ", path, ": ", std::strerror(errno)));
  }
  return w;
}

absl::Status JsonlMetricsWriter::Write(int64_t step, const std::map<std::string, double>& values) {
  nlohmann::ordered_json record;
  record["step"] = step;
  record["time"] = clock_();
  for (const auto& [name, value] : values) {
    if (name == "step" || name == "time") {
      return absl::InvalidArgumentError(
          absl::StrCat("metric name \"", name, "\" is reserved in ", path_, " (step ", step, ")"));
    }
    if (std::isfinite(value)) {
      record[name] = value;
    } else {
      record[name] = nullptr;
    }
  }
  out_ << record.dump() << "\n";
  out_.flush();
  if (!out_.good()) return absl::InternalError(absl::StrCat("write failed: ", path_, " (step ", step, ")"));
  return absl::OkStatus();
}

absl::Status JsonlMetricsWriter::Flush() {
  out_.flush();
  if (!out_.good()) return absl::InternalError(absl::StrCat("flush failed: ", path_));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------- TensorBoard

std::string EncodeTfRecord(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  AppendLe(&out, data.size(), 8);
  AppendLe(&out, MaskCrc32c(Crc32c(out.data(), 8)), 4);
  out.append(data);
  AppendLe(&out, MaskCrc32c(Crc32c(data)), 4);
  return out;
}

absl::StatusOr<std::vector<std::string>> ReadTfRecords(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open())
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> records;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t index = records.size();
    if (bytes.size() - pos < 12) {
      return absl::DataLossError(
          absl::StrCat(path, ": record ", index, " at byte ", pos, ": truncated header"));
    }
    const uint64_t len = ReadLe(bytes.data() + pos, 8);
    const uint32_t len_crc = static_cast<uint32_t>(ReadLe(bytes.data() + pos + 8, 4));
    if (UnmaskCrc32c(len_crc) != Crc32c(bytes.data() + pos, 8)) {
      return absl::DataLossError(
          absl::StrCat(path, ": record ", index, " at byte ", pos, ": length CRC mismatch"));
    }
    if (bytes.size() - pos - 12 < len || bytes.size() - pos - 12 - len < 4) {
      return absl::DataLossError(
          absl::StrCat(path, ": record ", index, " at byte ", pos, ": truncated data (length ", len, ")"));
    }
    std::string data = bytes.substr(pos + 12, len);
    const uint32_t data_crc = static_cast<uint32_t>(ReadLe(bytes.data() + pos + 12 + len, 4));
    if (UnmaskCrc32c(data_crc) != Crc32c(data)) {
      return absl::DataLossError(
          absl::StrCat(path, ": record ", index, " at byte ", pos, ": data CRC mismatch"));
    }
    records.push_back(std::move(data));
    pos += 12 + len + 4;
  }
  return records;
}

absl::StatusOr<std::unique_ptr<TensorBoardWriter>> TensorBoardWriter::Open(
    const std::string& dir, const TensorBoardOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create TensorBoard directory ", dir, ": ", ec.message()));
  const double now = options.clock();
  const std::string host = options.hostname.empty() ? Hostname() : options.hostname;
  const std::string base =
      absl::StrCat(dir, "/events.out.tfevents.", static_cast<int64_t>(std::floor(now)), ".", host);
  // Two writers opened in the same second get distinct files rather than clobbering each other.
  std::string path = base;
  for (int n = 1; std::filesystem::exists(path, ec); ++n) path = absl::StrCat(base, ".", n);
  std::unique_ptr<TensorBoardWriter> w(new TensorBoardWriter(path, options.clock));
  w->out_.open(path, std::ios::out | std::ios::binary | std::ios::trunc);
  if (!w->out_.is_open()) {
    return absl::InternalError(absl::StrCat("cannot create event file ", path, ": ", std::strerror(errno)));
  }
  tb::Event event;
  event.set_wall_time(now);
  event.set_file_version("brain.Event:2");
  std::string data;
  event.SerializeToString(&data);
  if (absl::Status s = w->WriteRecord(data); !s.ok()) return s;
  return w;
}

absl::Status TensorBoardWriter::WriteRecord(const std::string& data) {
  const std::string record = EncodeTfRecord(data);
  out_.write(record.data(), static_cast<std::streamsize>(record.size()));
  out_.flush();
  if (!out_.good()) return absl::InternalError(absl::StrCat("write failed: ", path_));
  return absl::OkStatus();
}

absl::Status TensorBoardWriter::Write(int64_t step, const std::map<std::string, double>& values) {
  tb::Event event;
  event.set_wall_time(clock_());
  event.set_step(step);
  tb::Summary* summary = event.mutable_summary();
  for (const auto& [name, value] : values) {
    tb::SummaryValue* v = summary->add_value();
    v->set_tag(name);
    v->set_simple_value(static_cast<float>(value));
  }
  std::string data;
  event.SerializeToString(&data);
  return WriteRecord(data);
}

absl::Status TensorBoardWriter::WriteText(int64_t step, const std::string& tag, const std::string& text) {
  constexpr int32_t kDtString = 7;  // tensorflow/core/framework/types.proto DT_STRING
  tb::Event event;
  event.set_wall_time(clock_());
  event.set_step(step);
  tb::SummaryValue* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  v->mutable_metadata()->mutable_plugin_data()->set_plugin_name("text");
  tb::Tensor* t = v->mutable_tensor();
  t->set_dtype(kDtString);
  t->mutable_tensor_shape();  // no dims: a scalar
  t->add_string_val(text);
  std::string data;
  event.SerializeToString(&data);
  return WriteRecord(data);
}

absl::Status TensorBoardWriter::Flush() {
  out_.flush();
  if (!out_.good()) return absl::InternalError(absl::StrCat("flush failed: ", path_));
  return absl::OkStatus();
}

// --------------------------------------------------------------------------------------------- Multi

void MultiWriter::Add(std::unique_ptr<MetricsWriter> writer) { writers_.push_back(std::move(writer)); }

absl::Status MultiWriter::Write(int64_t step, const std::map<std::string, double>& values) {
  absl::Status first;
  for (auto& w : writers_) {
    absl::Status s = w->Write(step, values);
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

absl::Status MultiWriter::WriteText(int64_t step, const std::string& tag, const std::string& text) {
  absl::Status first;
  for (auto& w : writers_) {
    absl::Status s = w->WriteText(step, tag, text);
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

absl::Status MultiWriter::Flush() {
  absl::Status first;
  for (auto& w : writers_) {
    absl::Status s = w->Flush();
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

}  // namespace m1rl
