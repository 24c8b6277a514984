// The one place where LibTorch 1.13 (Debian, CPU) and 2.x (PyTorch wheel, CUDA) differ for m1rl (S4).
// Everything else includes this instead of spelling version-specific types.
#ifndef M1RL_COMMON_TORCH_COMPAT_H_
#define M1RL_COMMON_TORCH_COMPAT_H_

#include <c10/core/ScalarType.h>
#include <c10/util/Optional.h>
#include <torch/csrc/api/include/torch/version.h>

#include <optional>

namespace m1rl::compat {

inline constexpr int kTorchMajor = TORCH_VERSION_MAJOR;
inline constexpr int kTorchMinor = TORCH_VERSION_MINOR;
inline constexpr bool kHasFloat8 = TORCH_VERSION_MAJOR >= 2;
// at::_grouped_mm exists from 2.8 on.
inline constexpr bool kHasGroupedMm = TORCH_VERSION_MAJOR > 2 ||
                                      (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 8);

// c10::optional is its own type in 1.13 and an alias of std::optional in 2.x.
template <typename T>
using Optional = c10::optional<T>;

template <typename T>
Optional<T> ToTorchOptional(const std::optional<T>& v) {
  if (v.has_value()) return Optional<T>(*v);
  return c10::nullopt;
}

template <typename T>
std::optional<T> FromTorchOptional(const Optional<T>& v) {
  if (v.has_value()) return std::optional<T>(*v);
  return std::nullopt;
}

}  // namespace m1rl::compat

#endif  // M1RL_COMMON_TORCH_COMPAT_H_
