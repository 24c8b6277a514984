#include "kernels/ops.h"

#include <c10/util/Exception.h>

#include "kernels/reference/lightning_attention.h"

namespace m1rl::ops {
namespace {

at::ScalarType StateDtype(const at::Tensor& q) {
  return q.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

void CheckDtype(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const auto t = q.scalar_type();
  TORCH_CHECK(t == at::kFloat || t == at::kBFloat16 || t == at::kDouble,
              "lightning: expected q float, bfloat16 or double, got ", t);
  TORCH_CHECK(k.scalar_type() == t && v.scalar_type() == t, "lightning: q, k, v dtypes differ: ", t, " ",
              k.scalar_type(), " ", v.scalar_type());
  TORCH_CHECK(k.device() == q.device() && v.device() == q.device(), "lightning: q, k, v on different devices");
}

}  // namespace

LightningOutput LightningAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                   const at::Tensor& decay, const std::vector<int64_t>& cu_seqlens,
                                   const at::Tensor& initial_state, int64_t block_size) {
  CheckDtype(q, k, v);
  // Only the CPU reference exists so far; a CUDA kernel registers here when kernels/cuda lands.
  auto r = reference::LightningAttentionChunked(q, k, v, decay, cu_seqlens, initial_state, block_size, StateDtype(q));
  return {r.out, r.final_state};
}

at::Tensor LightningDecode(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& decay,
                           at::Tensor& state) {
  CheckDtype(q, k, v);
  TORCH_CHECK(state.scalar_type() == StateDtype(q), "lightning decode: expected state dtype ", StateDtype(q), ", got ",
              state.scalar_type());
  return reference::LightningDecodeStep(q, k, v, decay, state).to(q.scalar_type());
}

}  // namespace m1rl::ops
