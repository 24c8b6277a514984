// Lightning attention CUDA kernels (MiniMax-M1 exact decay; MODEL.md §4, KERNELS.md). Raw device pointers,
// sizes and a stream in, cudaError_t out; no torch/ATen/c10/absl (S3). kernels/cuda_ops.h binds tensors.
//
// Semantics per (sequence, head), state S [d_k, d_v] fp32, lambda_h = exp(-decay_rate[h]):
//   S_t = lambda * S_{t-1} + k_t^T v_t ;  o_t = q_t S_t       (current token included, no scale)
// Packed variable-length batches: sequence b spans tokens [cu_seqlens[b], cu_seqlens[b+1]); the state is
// reset (or taken from init_state) per sequence.
#ifndef M1RL_KERNELS_CUDA_LIGHTNING_ATTENTION_H_
#define M1RL_KERNELS_CUDA_LIGHTNING_ATTENTION_H_

#include <cuda_runtime_api.h>

#include <cstdint>

namespace m1rl::cuda {

// Element type of q, k, v, dO and outputs (states and decays are always fp32).
enum class IoType { kF32, kBF16 };

// State columns per thread block of the bf16 tensor-core scan. kAuto: min(d, 64), or 32 for d = 64 or 128
// when the min(d, 64) grid leaves SMs idle and the 32-column grid still runs in one wave. k32 / k64 force a
// width (tests; k32 applies to d = 64 and 128 only, k64 means min(d, 64)). Every output element is computed
// by the same arithmetic whatever the width, so the choice never changes a result bit.
enum class ScanColumnTile { kAuto, k32, k64 };

// A strided view of a per-token, per-head vector: element (t, h, i) is at ptr[t*tok_stride + h*head_stride +
// i], of type io_type (fp32 or bf16) given in the args struct.
struct TokenHeadView {
  const void* ptr = nullptr;
  int64_t tok_stride = 0;
  int64_t head_stride = 0;
};

struct LightningScanArgs {
  TokenHeadView q;                      // [T, H, d] "query" role
  TokenHeadView k;                      // [T, H, d] "key" role (rows of S)
  TokenHeadView v;                      // [T, H, d] "value" role (columns of S)
  const int32_t* cu_seqlens = nullptr;  // [num_seqs + 1] device, int32
  int64_t num_seqs = 0;
  int64_t num_heads = 0;
  int64_t head_dim = 0;                // d (1..128)
  const float* decay_rate = nullptr;   // [H] device: s_h * f_i; lambda_h = exp(-decay_rate[h])
  const float* init_state = nullptr;   // [num_seqs, H, d, d] fp32 or null (zeros)
  bool transpose_init = false;         // read init_state as [.., d_v, d_k]
  bool init_scale_inv_lambda = false;  // multiply init_state by 1/lambda_h (backward scans)
  float* final_state = nullptr;        // [num_seqs, H, d, d] fp32 or null
  bool final_scale_lambda = false;     // multiply final_state by lambda_h (backward: dS_0 = lambda G_1)
  bool reverse = false;                // scan each sequence from its last token to its first
  void* out = nullptr;  // [T, H, d]: element (t, h, i) at out[t*out_tok_stride + h*out_head_stride + i]
  int64_t out_tok_stride = 0;
  int64_t out_head_stride = 0;
  IoType io_type = IoType::kF32;  // type of q, k, v and out
  ScanColumnTile column_tile = ScanColumnTile::kAuto;
};

// Chunked scan: the forward of lightning attention (and, with roles swapped / reverse, its backward).
cudaError_t LightningScan(const LightningScanArgs& args, cudaStream_t stream);

// Forward: out = lightning(q, k, v), final state optional.
// Backward (all fp32, same layouts as the forward): given dout [T,H,d] (and optionally d_final_state), writes
// dq, dk, dv [T,H,d] (contiguous) and optionally d_init_state [num_seqs,H,d,d]. The forward's init_state is
// needed for dq (null = zeros). Internally three scans (MODEL.md §4.8):
//   dq_t = dO_t S_t^T              -> forward scan with (q,k,v) = (dO, v, k), init S_0^T
//   G_j = lambda G_{j+1} + q_j^T dO_j (+ lambda^(T-j) dS_T)
//   dv_j = k_j G_j                 -> reverse scan with (q,k,v) = (k, q, dO), init dS_T / lambda
//   dk_j = v_j G_j^T               -> reverse scan with (q,k,v) = (v, dO, q), init dS_T^T / lambda
//   dS_0 = lambda G_1              -> final state of the dv scan, times lambda
// The three scans are independent: on the tensor-core path they run as one launch (grid.z picks the scan).
struct LightningBackwardArgs {
  TokenHeadView q, k, v;  // forward inputs
  TokenHeadView dout;     // [T, H, d]
  const int32_t* cu_seqlens = nullptr;
  int64_t num_seqs = 0, num_heads = 0, head_dim = 0;
  const float* decay_rate = nullptr;     // [H]
  const float* init_state = nullptr;     // [num_seqs, H, d, d] or null
  const float* d_final_state = nullptr;  // [num_seqs, H, d, d] or null
  void* dq = nullptr;                    // [T, H, d] contiguous, io_type
  void* dk = nullptr;
  void* dv = nullptr;
  float* d_init_state = nullptr;  // [num_seqs, H, d, d] or null
  IoType io_type = IoType::kF32;  // type of q, k, v, dout, dq, dk, dv
  ScanColumnTile column_tile = ScanColumnTile::kAuto;
};
cudaError_t LightningBackward(const LightningBackwardArgs& args, cudaStream_t stream);

// Decode: one new token for each of B sequences, state updated in place in a slot pool.
//   state_pool [num_slots, H, d, d] fp32; slot_idx [B] int32 (device) picks each sequence's slot.
//   q, k, v: element (b, h, i) at ptr[b*tok_stride + h*head_stride + i]; out [B, H, d] contiguous.
struct LightningDecodeArgs {
  TokenHeadView q, k, v;
  int64_t batch = 0, num_heads = 0, head_dim = 0;
  const float* decay_rate = nullptr;  // [H]
  float* state_pool = nullptr;        // [num_slots, H, d, d]
  const int32_t* slot_idx = nullptr;  // [B]; null = identity (slot b); a negative slot skips the sequence
  void* out = nullptr;                // [B, H, d], io_type
  IoType io_type = IoType::kF32;      // type of q, k, v and out
};
cudaError_t LightningDecode(const LightningDecodeArgs& args, cudaStream_t stream);

}  // namespace m1rl::cuda

#endif  // M1RL_KERNELS_CUDA_LIGHTNING_ATTENTION_H_
