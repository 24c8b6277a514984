// Tests for trainer/device.h: the device policy with fake probes (no GPU needed).
#include "trainer/device.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

constexpr DeviceProbe kNoGpu{false, 0};
constexpr DeviceProbe kEightGpus{true, 8};

std::string Pick(std::string_view spec, const DeviceProbe& probe, int local_rank) {
  absl::StatusOr<DeviceChoice> d = ChooseDevice(spec, probe, /*rank=*/local_rank + 8, local_rank);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? d->device : "";
}

TEST(DeviceTest, AutoTakesTheLocalRanksGpuOrCpu) {
  EXPECT_EQ(Pick("auto", kNoGpu, 0), "cpu");
  EXPECT_EQ(Pick("", kNoGpu, 3), "cpu");
  EXPECT_EQ(Pick("auto", kEightGpus, 0), "cuda:0");
  EXPECT_EQ(Pick("auto", kEightGpus, 5), "cuda:5");
  EXPECT_EQ(Pick("", kEightGpus, 7), "cuda:7");
  EXPECT_EQ(Pick("cuda", kEightGpus, 2), "cuda:2");
  EXPECT_EQ(Pick("cpu", kEightGpus, 2), "cpu");
  EXPECT_EQ(Pick("cuda:3", kEightGpus, 0), "cuda:3");
}

TEST(DeviceTest, DescriptionNamesRankDeviceAndSpec) {
  absl::StatusOr<DeviceChoice> d = ChooseDevice("auto", kEightGpus, 11, 3);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->description, "rank 11 (local 3) on cuda:3 (model.device 'auto', 8 CUDA device(s))");
}

TEST(DeviceTest, ErrorsNameTheSetting) {
  EXPECT_THAT(ChooseDevice("cuda", kNoGpu, 0, 0).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no CUDA device")));
  EXPECT_THAT(ChooseDevice("cuda:0", kNoGpu, 0, 0).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("model.device is 'cuda:0'")));
  EXPECT_THAT(ChooseDevice("auto", DeviceProbe{true, 2}, 2, 2).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("LOCAL_RANK 2 has no GPU")));
  EXPECT_THAT(ChooseDevice("cuda:8", kEightGpus, 0, 0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("8 CUDA device(s)")));
  EXPECT_THAT(ChooseDevice("cuda:x", kEightGpus, 0, 0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.device must be")));
  EXPECT_THAT(ChooseDevice("cuda:-1", kEightGpus, 0, 0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.device must be")));
  EXPECT_THAT(ChooseDevice("gpu", kEightGpus, 0, 0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.device must be cpu, cuda")));
  EXPECT_THAT(ChooseDevice("auto", kEightGpus, 0, -1).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("LOCAL_RANK")));
}

TEST(DeviceTest, ProbeIsConsistent) {
  const DeviceProbe p = ProbeDevices();
  EXPECT_EQ(p.cuda_available, p.cuda_device_count > 0);
}

}  // namespace
}  // namespace m1rl::trainer
