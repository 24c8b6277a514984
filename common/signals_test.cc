#include "common/signals.h"

#include <signal.h>
#include <unistd.h>

#include "absl/base/attributes.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl {
namespace {

using ::m1rl::testing::IsOk;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

bool HasDefaultDisposition(int sig) {
  struct sigaction current {};
  sigaction(sig, nullptr, &current);
  return current.sa_handler == SIG_DFL;
}

// A frame the symbolised stack must name.
ABSL_ATTRIBUTE_NOINLINE void CrashForSignalsTest() {
  raise(SIGSEGV);
  ABSL_BLOCK_TAIL_CALL_OPTIMIZATION();
}

TEST(StopSignalTest, FirstSignalIsRecordedAndTheSecondGetsTheDefaultAction) {
  ResetStopSignalForTesting();
  ASSERT_THAT(InstallStopSignalHandlers(), IsOk());
  EXPECT_EQ(StopSignalReceived(), 0);
  EXPECT_FALSE(HasDefaultDisposition(SIGTERM));
  ASSERT_EQ(raise(SIGTERM), 0);  // handled: the process goes on
  EXPECT_EQ(StopSignalReceived(), SIGTERM);
  EXPECT_TRUE(HasDefaultDisposition(SIGTERM));  // SA_RESETHAND
  ASSERT_EQ(raise(SIGINT), 0);                  // still ours; the first signal stays recorded
  EXPECT_EQ(StopSignalReceived(), SIGTERM);
  EXPECT_TRUE(HasDefaultDisposition(SIGINT));
  ResetStopSignalForTesting();
  EXPECT_EQ(StopSignalReceived(), 0);
}

TEST(StopSignalDeathTest, SecondSigtermTerminatesAndTheFirstSaysSo) {
  EXPECT_EXIT(
      {
        if (!InstallStopSignalHandlers().ok()) _exit(3);
        raise(SIGTERM);
        if (StopSignalReceived() != SIGTERM) _exit(4);
        raise(SIGTERM);
        _exit(5);
      },
      ::testing::KilledBySignal(SIGTERM), "m1rl: SIGTERM received: stopping cleanly");
}

TEST(FailureSignalDeathTest, SegfaultPrintsASymbolisedStack) {
  EXPECT_DEATH(
      {
        InstallFailureSignalHandler("/proc/self/exe");
        CrashForSignalsTest();
      },
      AllOf(HasSubstr("*** SIGSEGV received at time="), HasSubstr("CrashForSignalsTest")));
}

TEST(FailureSignalDeathTest, SigtermIsNotReportedAsACrash) {
  EXPECT_EXIT(
      {
        InstallFailureSignalHandler("/proc/self/exe");
        if (HasDefaultDisposition(SIGSEGV) || HasDefaultDisposition(SIGABRT)) _exit(3);  // absl's is in
        if (!HasDefaultDisposition(SIGTERM) || !HasDefaultDisposition(SIGINT)) _exit(4);
        raise(SIGTERM);
        _exit(5);
      },
      ::testing::KilledBySignal(SIGTERM), Not(HasSubstr("received at time=")));
}

TEST(FailureSignalDeathTest, StopHandlersComposeWithTheFailureHandler) {
  // The order main() and `m1rl train` use: failure handler first, stop handlers after.
  EXPECT_EXIT(
      {
        InstallFailureSignalHandler("/proc/self/exe");
        if (!InstallStopSignalHandlers().ok()) _exit(3);
        raise(SIGTERM);
        _exit(StopSignalReceived() == SIGTERM ? 0 : 4);
      },
      ::testing::ExitedWithCode(0),
      AllOf(HasSubstr("SIGTERM received: stopping cleanly"), Not(HasSubstr("received at time="))));
}

TEST(SignalNameTest, NamesTheCommonOnes) {
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(SignalName(SIGINT), "SIGINT");
  EXPECT_EQ(SignalName(SIGSEGV), "SIGSEGV");
  EXPECT_EQ(SignalName(64), "signal 64");
}

}  // namespace
}  // namespace m1rl
