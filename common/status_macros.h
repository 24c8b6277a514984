// Status propagation macros (Abseil 20220623 ships none).
//
//   M1RL_RETURN_IF_ERROR(expr);            // returns the Status if !ok()
//   M1RL_ASSIGN_OR_RETURN(auto x, expr);   // x = *StatusOr, or returns its Status
//
// Both evaluate `expr` once. The returned Status is unchanged (no context is added); callers that want
// context use M1RL_RETURN_IF_ERROR_WITH(expr, "while reading ", path), which prefixes the message.
#ifndef M1RL_COMMON_STATUS_MACROS_H_
#define M1RL_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace m1rl::internal {

inline const absl::Status& AsStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& AsStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

// Returns `s` with `prefix` prepended to its message, keeping the code.
inline absl::Status Annotate(const absl::Status& s, absl::string_view prefix) {
  return absl::Status(s.code(), absl::StrCat(prefix, ": ", s.message()));
}

}  // namespace m1rl::internal

#define M1RL_STATUS_CONCAT_INNER_(a, b) a##b
#define M1RL_STATUS_CONCAT_(a, b) M1RL_STATUS_CONCAT_INNER_(a, b)

#define M1RL_RETURN_IF_ERROR(expr)                                    \
  do {                                                                \
    ::absl::Status m1rl_status_ = ::m1rl::internal::AsStatus((expr)); \
    if (!m1rl_status_.ok()) return m1rl_status_;                      \
  } while (0)

#define M1RL_RETURN_IF_ERROR_WITH(expr, ...)                                                              \
  do {                                                                                                    \
    ::absl::Status m1rl_status_ = ::m1rl::internal::AsStatus((expr));                                     \
    if (!m1rl_status_.ok()) return ::m1rl::internal::Annotate(m1rl_status_, ::absl::StrCat(__VA_ARGS__)); \
  } while (0)

#define M1RL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(*tmp)

#define M1RL_ASSIGN_OR_RETURN(lhs, expr) \
  M1RL_ASSIGN_OR_RETURN_IMPL_(M1RL_STATUS_CONCAT_(m1rl_statusor_, __LINE__), lhs, expr)

#endif  // M1RL_COMMON_STATUS_MACROS_H_
