#include "common/metrics.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proto/tensorboard.pb.h"

namespace m1rl {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

std::string FreshDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/m1rl_metrics_" + name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(JsonlMetricsWriterTest, OneObjectPerStepStepAndTimeFirst) {
  const std::string path = FreshDir("jsonl") + "/metrics.jsonl";
  double t = 1000.5;
  M1RL_ASSERT_OK_AND_ASSIGN(auto w, JsonlMetricsWriter::Open(path, /*append=*/false, [&t] { return t; }));
  ASSERT_THAT(w->Write(3, {{"loss", 1.5}, {"acc", -2.0}}), IsOk());
  t = 1001.25;
  ASSERT_THAT(w->Write(4, {{"loss", 0.25}, {"nan_metric", std::nan("")}}), IsOk());
  const std::vector<std::string> lines = Lines(ReadFile(path));
  ASSERT_EQ(lines.size(), 2u);
  // Hand-written expected records: keys after step/time in std::map (sorted) order; NaN becomes null.
  EXPECT_EQ(lines[0], R"({"step":3,"time":1000.5,"acc":-2.0,"loss":1.5})");
  EXPECT_EQ(lines[1], R"({"step":4,"time":1001.25,"loss":0.25,"nan_metric":null})");
}

TEST(JsonlMetricsWriterTest, AppendKeepsEarlierLines) {
  const std::string path = FreshDir("jsonl_append") + "/m.jsonl";
  {
    M1RL_ASSERT_OK_AND_ASSIGN(auto w, JsonlMetricsWriter::Open(path, false, [] { return 1.0; }));
    ASSERT_THAT(w->Write(1, {{"x", 1}}), IsOk());
  }
  M1RL_ASSERT_OK_AND_ASSIGN(auto w, JsonlMetricsWriter::Open(path, true, [] { return 2.0; }));
  ASSERT_THAT(w->Write(2, {{"x", 2}}), IsOk());
  const std::vector<std::string> lines = Lines(ReadFile(path));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[1])["step"], 2);
}

TEST(JsonlMetricsWriterTest, ReservedNameAndMissingDirectoryAreErrors) {
  const std::string path = FreshDir("jsonl_err") + "/m.jsonl";
  M1RL_ASSERT_OK_AND_ASSIGN(auto w, JsonlMetricsWriter::Open(path));
  EXPECT_THAT(w->Write(1, {{"step", 1}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"step\"")));
  EXPECT_THAT(JsonlMetricsWriter::Open("/nonexistent_dir_m1rl/m.jsonl").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent_dir_m1rl/m.jsonl")));
}

// Parses TFRecord framing independently of ReadTfRecords: little-endian fields, CRCs checked with the
// masking formula written out here.
std::vector<std::string> ParseFramesByHand(const std::string& bytes) {
  auto le = [&](size_t pos, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t{static_cast<unsigned char>(bytes[pos + i])} << (8 * i);
    return v;
  };
  auto mask = [](uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; };
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    EXPECT_GE(bytes.size() - pos, 16u);
    const uint64_t len = le(pos, 8);
    EXPECT_EQ(le(pos + 8, 4), mask(Crc32c(bytes.data() + pos, 8))) << "length CRC at " << pos;
    const std::string data = bytes.substr(pos + 12, len);
    EXPECT_EQ(le(pos + 12 + len, 4), mask(Crc32c(data))) << "data CRC at " << pos;
    out.push_back(data);
    pos += 16 + len;
  }
  return out;
}

TEST(TensorBoardWriterTest, WritesFileVersionThenSummariesWithValidCrcs) {
  const std::string dir = FreshDir("tb");
  double t = 1700000000.75;
  TensorBoardOptions opt;
  opt.clock = [&t] { return t; };
  opt.hostname = "testhost";
  M1RL_ASSERT_OK_AND_ASSIGN(auto w, TensorBoardWriter::Open(dir + "/run1", opt));
  EXPECT_EQ(w->path(), dir + "/run1/events.out.tfevents.1700000000.testhost");
  t += 1;
  ASSERT_THAT(w->Write(10, {{"loss", 0.1}, {"reward/mean", 0.75}}), IsOk());
  t += 1;
  ASSERT_THAT(w->Write(11, {{"loss", -3.5}}), IsOk());

  const std::string bytes = ReadFile(w->path());
  const std::vector<std::string> by_hand = ParseFramesByHand(bytes);
  M1RL_ASSERT_OK_AND_ASSIGN(std::vector<std::string> records, ReadTfRecords(w->path()));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records, by_hand);

  tb::Event e0, e1, e2;
  ASSERT_TRUE(e0.ParseFromString(records[0]));
  ASSERT_TRUE(e1.ParseFromString(records[1]));
  ASSERT_TRUE(e2.ParseFromString(records[2]));
  EXPECT_EQ(e0.file_version(), "brain.Event:2");
  EXPECT_EQ(e0.wall_time(), 1700000000.75);
  EXPECT_EQ(e1.step(), 10);
  EXPECT_EQ(e1.wall_time(), 1700000001.75);
  ASSERT_EQ(e1.summary().value_size(), 2);
  EXPECT_EQ(e1.summary().value(0).tag(), "loss");
  EXPECT_EQ(e1.summary().value(0).simple_value(), 0.1f);
  EXPECT_EQ(e1.summary().value(1).tag(), "reward/mean");
  EXPECT_EQ(e1.summary().value(1).simple_value(), 0.75f);
  EXPECT_EQ(e2.step(), 11);
  EXPECT_EQ(e2.summary().value(0).simple_value(), -3.5f);
}

TEST(TensorBoardWriterTest, FieldNumbersMatchTensorFlow) {
  // tensorflow/core/util/event.proto: wall_time = 1 (fixed64 tag 0x09), step = 2 (varint tag 0x10),
  // file_version = 3 (tag 0x1a), summary = 5 (tag 0x2a); summary.proto: value = 1, tag = 1,
  // simple_value = 2 (fixed32 tag 0x15). Bytes derived by hand from the wire format.
  tb::Event e;
  e.set_step(5);
  e.mutable_summary()->add_value()->set_simple_value(1.0f);
  std::string data;
  e.SerializeToString(&data);
  // step: 10 05; summary: 2a 07 [value: 0a 05 [15 00 00 80 3f]]
  const std::string expected("\x10\x05\x2a\x07\x0a\x05\x15\x00\x00\x80\x3f", 11);
  EXPECT_EQ(data, expected);
  tb::Event v;
  v.set_wall_time(0.0);
  v.set_file_version("x");
  v.SerializeToString(&data);
  EXPECT_EQ(data, std::string("\x1a\x01x", 3));
}

TEST(TensorBoardWriterTest, TextSummaryWireFormat) {
  // summary.proto Value: tag = 1, tensor = 8 (tag 0x42), metadata = 9 (tag 0x4a); SummaryMetadata
  // plugin_data = 1, PluginData plugin_name = 1; tensor.proto dtype = 1 (DT_STRING = 7), tensor_shape = 2
  // (tag 0x12, empty: a scalar), string_val = 8 (tag 0x42). Bytes derived by hand from the wire format.
  const std::string dir = FreshDir("tb_text");
  TensorBoardOptions opt;
  opt.clock = [] { return 0.0; };  // wall_time 0 is not serialised
  opt.hostname = "h";
  M1RL_ASSERT_OK_AND_ASSIGN(auto w, TensorBoardWriter::Open(dir, opt));
  ASSERT_THAT(w->WriteText(3, "t", "hi"), IsOk());
  M1RL_ASSERT_OK_AND_ASSIGN(std::vector<std::string> records, ReadTfRecords(w->path()));
  ASSERT_EQ(records.size(), 2u);
  // value: [0a 01 't'] [42 08 [08 07] [12 00] [42 02 'h' 'i']] [4a 08 [0a 06 [0a 04 't' 'e' 'x' 't']]]
  const std::string value("\x0a\x01t\x42\x08\x08\x07\x12\x00\x42\x02hi\x4a\x08\x0a\x06\x0a\x04text", 23);
  const std::string expected = std::string("\x10\x03\x2a\x19\x0a\x17", 6) + value;
  EXPECT_EQ(records[1], expected);
}

TEST(TensorBoardWriterTest, ZeroScalarIsWritten) {
  // simple_value sits in a oneof (as in summary.proto), so 0.0 is serialised: 15 00 00 00 00.
  tb::Event e;
  e.mutable_summary()->add_value()->set_simple_value(0.0f);
  std::string data;
  e.SerializeToString(&data);
  EXPECT_EQ(data, std::string("\x2a\x07\x0a\x05\x15\x00\x00\x00\x00", 9));
}

TEST(TensorBoardWriterTest, SameSecondGetsDistinctFiles) {
  const std::string dir = FreshDir("tb_two");
  TensorBoardOptions opt;
  opt.clock = [] { return 42.0; };
  opt.hostname = "h";
  M1RL_ASSERT_OK_AND_ASSIGN(auto a, TensorBoardWriter::Open(dir, opt));
  M1RL_ASSERT_OK_AND_ASSIGN(auto b, TensorBoardWriter::Open(dir, opt));
  EXPECT_NE(a->path(), b->path());
  EXPECT_THAT(ReadTfRecords(a->path()), IsOk());
}

TEST(ReadTfRecordsTest, DetectsCorruptionAndTruncation) {
  const std::string dir = FreshDir("tfr");
  const std::string path = dir + "/r";
  const std::string good = EncodeTfRecord("first") + EncodeTfRecord("second record");
  {
    std::ofstream(path, std::ios::binary) << good;
    M1RL_ASSERT_OK_AND_ASSIGN(auto recs, ReadTfRecords(path));
    EXPECT_THAT(recs, ::testing::ElementsAre("first", "second record"));
  }
  std::string bad = good;
  bad[bad.size() - 6] ^= 0x01;  // a byte inside record 1's data
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
  EXPECT_THAT(ReadTfRecords(path),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("record 1 at byte 21: data CRC mismatch")));
  bad = good;
  bad[3] ^= 0x01;  // record 0's length
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
  EXPECT_THAT(ReadTfRecords(path),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("record 0 at byte 0: length CRC")));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << good.substr(0, good.size() - 2);
  EXPECT_THAT(ReadTfRecords(path),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("record 1 at byte 21: truncated")));
  EXPECT_THAT(ReadTfRecords(dir + "/missing"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing")));
}

class RecordingWriter : public MetricsWriter {
 public:
  RecordingWriter(std::vector<int64_t>* steps, absl::Status result)
      : steps_(steps), result_(std::move(result)) {}
  absl::Status Write(int64_t step, const std::map<std::string, double>&) override {
    steps_->push_back(step);
    return result_;
  }
  absl::Status Flush() override { return result_; }

 private:
  std::vector<int64_t>* steps_;
  absl::Status result_;
};

TEST(MultiWriterTest, FansOutAndReturnsFirstErrorAfterCallingAll) {
  std::vector<int64_t> a, b, c;
  MultiWriter multi;
  multi.Add(std::make_unique<RecordingWriter>(&a, absl::OkStatus()));
  multi.Add(std::make_unique<RecordingWriter>(&b, absl::InternalError("disk full")));
  multi.Add(std::make_unique<RecordingWriter>(&c, absl::OkStatus()));
  EXPECT_THAT(multi.Write(7, {{"x", 1}}), StatusIs(absl::StatusCode::kInternal, HasSubstr("disk full")));
  EXPECT_THAT(a, ::testing::ElementsAre(7));
  EXPECT_THAT(b, ::testing::ElementsAre(7));
  EXPECT_THAT(c, ::testing::ElementsAre(7));
  EXPECT_THAT(multi.Flush(), StatusIs(absl::StatusCode::kInternal, HasSubstr("disk full")));
}

}  // namespace
}  // namespace m1rl
