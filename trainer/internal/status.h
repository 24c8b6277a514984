// Interim stand-in for common/status_macros.h, whose Annotate() does not compile against Debian's
// Abseil 20220623 (absl::string_view is its own class there, not std::string_view; reported to the
// lead). Same macro names and semantics; it also claims that header's include guard so a later
// include of the broken header is a no-op. Delete this file once common/status_macros.h builds.
#ifndef M1RL_TRAINER_INTERNAL_STATUS_H_
#define M1RL_TRAINER_INTERNAL_STATUS_H_

#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#ifndef M1RL_COMMON_STATUS_MACROS_H_
#define M1RL_COMMON_STATUS_MACROS_H_
#endif

namespace m1rl::trainer::internal {

inline const absl::Status& AsStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& AsStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
// `s` with `prefix: ` prepended to its message, same code.
inline absl::Status Annotate(const absl::Status& s, std::string_view prefix) {
  return absl::Status(s.code(),
                      absl::StrCat(absl::string_view(prefix.data(), prefix.size()), ": ", s.message()));
}

}  // namespace m1rl::trainer::internal

#define M1RL_TRAINER_CONCAT_INNER_(a, b) a##b
#define M1RL_TRAINER_CONCAT_(a, b) M1RL_TRAINER_CONCAT_INNER_(a, b)

#ifndef M1RL_RETURN_IF_ERROR
#define M1RL_RETURN_IF_ERROR(expr)                                                           \
  do {                                                                                       \
    const ::absl::Status m1rl_trainer_status_ = ::m1rl::trainer::internal::AsStatus((expr)); \
    if (!m1rl_trainer_status_.ok()) return m1rl_trainer_status_;                             \
  } while (0)
#endif

#ifndef M1RL_RETURN_IF_ERROR_WITH
#define M1RL_RETURN_IF_ERROR_WITH(expr, ...)                                                         \
  do {                                                                                               \
    const ::absl::Status m1rl_trainer_status_ = ::m1rl::trainer::internal::AsStatus((expr));         \
    if (!m1rl_trainer_status_.ok())                                                                  \
      return ::m1rl::trainer::internal::Annotate(m1rl_trainer_status_, ::absl::StrCat(__VA_ARGS__)); \
  } while (0)
#endif

#ifndef M1RL_ASSIGN_OR_RETURN
#define M1RL_TRAINER_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                        \
  if (!tmp.ok()) return tmp.status();                       \
  lhs = std::move(*tmp)
#define M1RL_ASSIGN_OR_RETURN(lhs, expr) \
  M1RL_TRAINER_ASSIGN_OR_RETURN_IMPL_(M1RL_TRAINER_CONCAT_(m1rl_trainer_sor_, __LINE__), lhs, expr)
#endif

#endif  // M1RL_TRAINER_INTERNAL_STATUS_H_
