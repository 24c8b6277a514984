// Process signals: stack traces on a crash, and SIGTERM/SIGINT as a request to stop cleanly.
//
//   int main(int argc, char** argv) {
//     m1rl::InstallFailureSignalHandler(argv[0]);  // first thing: a crash prints a symbolised stack
//     ...
//   }
//   // in a command that can stop cleanly (m1rl train, m1rl reward-server):
//   M1RL_RETURN_IF_ERROR(m1rl::InstallStopSignalHandlers());
//   while (work_left && m1rl::StopSignalReceived() == 0) DoSomeWork();
//
// Composition: absl's failure signal handler also claims SIGTERM (it treats it as fatal and prints a
// stack). InstallFailureSignalHandler gives SIGTERM and SIGINT back their previous disposition, so a
// SIGTERM is never reported as a crash: it kills the process (default) or, once
// InstallStopSignalHandlers ran, requests a stop. SIGSEGV, SIGILL, SIGFPE, SIGABRT, SIGBUS and SIGTRAP
// print "*** SIGSEGV received at time=... ***" and the symbolised stack of the faulting thread to stderr,
// then die with the signal's default action (exit status 128 + signal in a shell).
//
// Design / non-goals: the stop handler only stores the signal number in a lock-free atomic and write(2)s
// a fixed message (both async-signal-safe); whoever owns the loop polls StopSignalReceived() at a safe
// point. Rejected: doing work in the handler (checkpointing, logging through iostreams), which is not
// async-signal-safe, and sigwait on a dedicated thread, which needs the signals blocked in every thread
// before any is created (gRPC, Gloo and OpenMP start threads inside library calls).
//
// Thread safety: the functions may be called from any thread; install once, early, before threads that
// could receive the signals exist (a signal is delivered to any thread that does not block it, and the
// handler is process-wide, so late installation is still correct but a signal before it is not caught).
#ifndef M1RL_COMMON_SIGNALS_H_
#define M1RL_COMMON_SIGNALS_H_

#include <string>

#include "absl/status/status.h"

namespace m1rl {

// Installs absl's failure signal handler (symbolised stack trace on SIGSEGV/SIGILL/SIGFPE/SIGABRT/
// SIGBUS/SIGTRAP) with the symbolizer initialised from `argv0`, then restores the dispositions SIGTERM
// and SIGINT had before (see above). Call once, at the start of main().
void InstallFailureSignalHandler(const char* argv0);

// Handlers for SIGTERM and SIGINT: the first one received is recorded (StopSignalReceived) and a line
// saying so goes to stderr; the disposition then resets to the default (SA_RESETHAND), so a second
// SIGTERM or SIGINT terminates the process at once. Returns kInternal naming the signal when sigaction
// fails.
absl::Status InstallStopSignalHandlers();

// The first SIGTERM/SIGINT received since InstallStopSignalHandlers (the signal number), or 0.
int StopSignalReceived();

// Test seam: forgets a received stop signal (handlers stay as they are).
void ResetStopSignalForTesting();

// "SIGTERM", "SIGINT", "SIGSEGV", ... ("signal N" for others).
std::string SignalName(int sig);

}  // namespace m1rl

#endif  // M1RL_COMMON_SIGNALS_H_
