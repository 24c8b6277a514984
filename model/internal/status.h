// Interim copy of the two propagation macros of common/status_macros.h, whose Annotate() does not compile
// against Debian's Abseil 20220623 (absl::string_view is not std::string_view there; reported to the lead).
// Same names and semantics, defined only if common/status_macros.h has not been included; delete this file
// and include common/status_macros.h once it builds.
#ifndef M1RL_MODEL_INTERNAL_STATUS_H_
#define M1RL_MODEL_INTERNAL_STATUS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#ifndef M1RL_RETURN_IF_ERROR
#define M1RL_MODEL_STATUS_CONCAT_INNER_(a, b) a##b
#define M1RL_MODEL_STATUS_CONCAT_(a, b) M1RL_MODEL_STATUS_CONCAT_INNER_(a, b)
#define M1RL_RETURN_IF_ERROR(expr)                                  \
  do {                                                              \
    const ::absl::Status m1rl_model_status_ = ::absl::Status(expr); \
    if (!m1rl_model_status_.ok()) return m1rl_model_status_;        \
  } while (false)
#define M1RL_MODEL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                      \
  if (!tmp.ok()) return tmp.status();                     \
  lhs = std::move(*tmp)
#define M1RL_ASSIGN_OR_RETURN(lhs, expr) \
  M1RL_MODEL_ASSIGN_OR_RETURN_IMPL_(M1RL_MODEL_STATUS_CONCAT_(m1rl_model_sor_, __LINE__), lhs, expr)
#endif

#endif  // M1RL_MODEL_INTERNAL_STATUS_H_
