#include "trainer/sync_status.h"

#include <ATen/ops/zeros.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

namespace m1rl::trainer {
namespace {

// Per rank: [0] status code, [1..2] message length (little endian), then the message bytes.
constexpr int64_t kHeaderBytes = 3;
constexpr int64_t kSlotBytes = kHeaderBytes + kSyncStatusMessageBytes;
constexpr std::string_view kCut = " [cut]";

at::Tensor EncodeStatus(const absl::Status& s) {
  at::Tensor slot = at::zeros({kSlotBytes}, at::kByte);
  uint8_t* p = slot.data_ptr<uint8_t>();
  p[0] = static_cast<uint8_t>(s.code());
  std::string msg(s.message());
  if (static_cast<int64_t>(msg.size()) > kSyncStatusMessageBytes) {
    msg.resize(static_cast<size_t>(kSyncStatusMessageBytes) - kCut.size());
    msg += kCut;
  }
  p[1] = static_cast<uint8_t>(msg.size() & 0xff);
  p[2] = static_cast<uint8_t>(msg.size() >> 8);
  std::copy(msg.begin(), msg.end(), p + kHeaderBytes);
  return slot;
}

absl::Status DecodeStatus(const uint8_t* p) {
  const size_t len = static_cast<size_t>(p[1]) | (static_cast<size_t>(p[2]) << 8);
  return absl::Status(static_cast<absl::StatusCode>(p[0]),
                      std::string(reinterpret_cast<const char*>(p + kHeaderBytes),
                                  std::min<size_t>(len, kSyncStatusMessageBytes)));
}

}  // namespace

absl::Status SyncStatus(Communicator& comm, const absl::Status& local, std::string_view phase) {
  const int world = comm.world_size();
  at::Tensor all = at::zeros({world * kSlotBytes}, at::kByte);
  absl::Status gathered = comm.AllGather(EncodeStatus(local), all);
  if (!gathered.ok()) return gathered;
  const uint8_t* p = all.data_ptr<uint8_t>();
  int first_failed = -1, num_failed = 0;
  for (int r = 0; r < world; ++r) {
    if (p[r * kSlotBytes] == 0) continue;
    if (first_failed < 0) first_failed = r;
    ++num_failed;
  }
  if (first_failed < 0) return absl::OkStatus();
  const absl::Status cause = DecodeStatus(p + first_failed * kSlotBytes);
  std::string msg = absl::StrCat(std::string(phase), ": rank ", first_failed, " failed: ", cause.message());
  if (num_failed > 1) absl::StrAppend(&msg, " (", num_failed, " of ", world, " ranks failed)");
  return absl::Status(cause.code(), msg);
}

}  // namespace m1rl::trainer
