#include "model/recompute.h"

#include <ATen/core/grad_mode.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <utility>

namespace m1rl::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// fn and the parameter handles, carried to backward in the context (an IValue capsule).
struct RecomputeState : torch::CustomClassHolder {
  RecomputeFn fn;
  std::vector<at::Tensor> params;
  size_t num_activations = 0;
};

class RecomputeFunction : public torch::autograd::Function<RecomputeFunction> {
 public:
  // `inputs` = activations then params (so the engine routes the returned gradients to both).
  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static variable_list forward(AutogradContext* ctx, at::TensorList inputs,
                               c10::intrusive_ptr<RecomputeState> state) {
    std::vector<at::Tensor> activations(inputs.begin(), inputs.begin() + state->num_activations);
    ctx->save_for_backward(activations);
    variable_list out = state->fn(activations);
    ctx->saved_data["state"] = c10::IValue::make_capsule(std::move(state));
    return out;
  }

  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto state =
        c10::static_intrusive_pointer_cast<RecomputeState>(ctx->saved_data["state"].toCapsule());
    const variable_list saved = ctx->get_saved_variables();
    std::vector<at::Tensor> activations;
    std::vector<at::Tensor> wrt;    // the tensors gradients are taken for, in input order
    std::vector<size_t> wrt_index;  // their position among the Function's tensor inputs
    for (size_t i = 0; i < saved.size(); ++i) {
      at::Tensor a = saved[i].detach();
      if (saved[i].requires_grad()) {
        a.requires_grad_(true);
        wrt.push_back(a);
        wrt_index.push_back(i);
      }
      activations.push_back(a);
    }
    for (size_t j = 0; j < state->params.size(); ++j) {
      if (!state->params[j].requires_grad()) continue;
      wrt.push_back(state->params[j]);
      wrt_index.push_back(saved.size() + j);
    }
    variable_list recomputed;
    {
      at::AutoGradMode enable(true);
      recomputed = state->fn(activations);
    }
    std::vector<at::Tensor> outs, grads;
    for (size_t i = 0; i < recomputed.size() && i < grad_outputs.size(); ++i) {
      if (!recomputed[i].requires_grad() || !grad_outputs[i].defined()) continue;
      outs.push_back(recomputed[i]);
      grads.push_back(grad_outputs[i]);
    }
    // One entry per tensor input plus one (undefined) for the state argument.
    variable_list result(saved.size() + state->params.size() + 1);
    if (outs.empty() || wrt.empty()) return result;
    const variable_list g = torch::autograd::grad(outs, wrt, grads, /*retain_graph=*/false,
                                                  /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t k = 0; k < g.size(); ++k) result[wrt_index[k]] = g[k];
    return result;
  }
};

}  // namespace

std::vector<at::Tensor> RunWithRecompute(RecomputeFn fn, const std::vector<at::Tensor>& activations,
                                         const std::vector<at::Tensor>& params) {
  bool any_grad = false;
  for (const at::Tensor& t : activations) any_grad = any_grad || t.requires_grad();
  for (const at::Tensor& t : params) any_grad = any_grad || t.requires_grad();
  if (!at::GradMode::is_enabled() || !any_grad) return fn(activations);
  auto state = c10::make_intrusive<RecomputeState>();
  state->fn = std::move(fn);
  state->params = params;
  state->num_activations = activations.size();
  std::vector<at::Tensor> inputs = activations;
  inputs.insert(inputs.end(), params.begin(), params.end());
  return RecomputeFunction::apply(at::TensorList(inputs), std::move(state));
}

}  // namespace m1rl::model
