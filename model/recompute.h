// Activation recomputation (gradient checkpointing) of a deterministic tensor function: the forward keeps
// no autograd graph, only its inputs; backward re-runs the function with grad enabled and back-propagates
// through the re-run. Trades one extra forward for the activations of everything inside the function.
//
//   std::vector<at::Tensor> out = RunWithRecompute(
//       [&](const std::vector<at::Tensor>& x) { return std::vector<at::Tensor>{Layer(x[0])}; },
//       /*activations=*/{h}, /*params=*/layer_params);
//
// Design / non-goals: parameters are not passed to `fn`; it reads them itself (they are the same tensors on
// both runs), and backward differentiates the re-run with respect to them directly. Passing detached
// parameter copies into fn (as PyTorch's checkpoint does with its inputs) would make every caller thread its
// weights through a tensor list. No RNG state is replayed: fn must not sample.
#ifndef M1RL_MODEL_RECOMPUTE_H_
#define M1RL_MODEL_RECOMPUTE_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

namespace m1rl::model {

// fn(activations) -> outputs. Called once in the forward (under no-grad) and once per backward.
using RecomputeFn = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>& activations)>;

// Returns fn(activations). When grad mode is on and an activation or a param requires grad, the outputs
// are attached to autograd through one node that keeps `activations` (saved tensors), `params` (handles)
// and `fn`; its backward re-runs fn on detached activations and returns the gradients of the activations
// and params that require grad (accumulated into params' .grad by the engine, as without recomputation).
// Otherwise fn runs plainly.
// REQUIRES: fn deterministic (the re-run reproduces the forward's outputs; its side effects happen twice);
// every tensor fn differentiates through is in `activations` or `params`; outputs are defined. Outputs
// of integral dtype are non-differentiable (e.g. counts).
// Throws c10::Error from fn or autograd (a caller bug).
std::vector<at::Tensor> RunWithRecompute(RecomputeFn fn, const std::vector<at::Tensor>& activations,
                                         const std::vector<at::Tensor>& params);

}  // namespace m1rl::model

#endif  // M1RL_MODEL_RECOMPUTE_H_
