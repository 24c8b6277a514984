// SyncStatus: a failure on any rank becomes the same clear error on every rank, before a collective phase.
//
// A rank that fails between two collectives and returns leaves the other ranks waiting in the next
// collective until the backend's timeout, which then reports a vanished peer instead of the cause. Each
// phase of a step therefore computes locally into an absl::Status and calls SyncStatus before its next
// collective: every rank contributes its status and all ranks return the same verdict.
//
// Usage:
//   absl::Status local = BuildMicroBatches(...);          // local work, may fail on one rank
//   M1RL_RETURN_IF_ERROR(SyncStatus(*comm, local, "building micro-batches"));
//   comm->AllReduce(counts, ReduceOp::kSum);              // every rank gets here, or none does
#ifndef M1RL_TRAINER_SYNC_STATUS_H_
#define M1RL_TRAINER_SYNC_STATUS_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "trainer/communicator.h"

namespace m1rl::trainer {

// Bytes of a failure message carried to the other ranks; longer messages are cut (and say so).
inline constexpr int64_t kSyncStatusMessageBytes = 1024;

// Collective (one AllGather of world_size * (kSyncStatusMessageBytes + 3) bytes). Returns OK iff `local`
// is OK on every rank. Otherwise every rank returns the status of the lowest failing rank r, with r's code
// and the message "<phase>: rank r failed: <r's message>" (plus " (k of W ranks failed)" when k > 1).
// An error of the AllGather itself is returned as is.
absl::Status SyncStatus(Communicator& comm, const absl::Status& local, std::string_view phase);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_SYNC_STATUS_H_
