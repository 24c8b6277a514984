// Invariant checks for bugs, not expected failures (S15). A failed check prints file:line, the
// condition and an optional message, then aborts. M1RL_DCHECK compiles away in NDEBUG builds.
//
//   M1RL_CHECK(n > 0) << "n=" << n;
//   M1RL_CHECK_EQ(a.size(), b.size());
#ifndef M1RL_COMMON_CHECK_H_
#define M1RL_COMMON_CHECK_H_

#include <cstdlib>
#include <iostream>
#include <sstream>

namespace m1rl::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* cond) {
    stream_ << file << ":" << line << ": M1RL_CHECK failed: " << cond << " ";
  }
  [[noreturn]] ~CheckFailure() {
    std::cerr << stream_.str() << std::endl;
    std::abort();
  }
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Lets `cond ? (void)0 : Voidify() & stream` type-check.
struct CheckVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace m1rl::internal

#define M1RL_CHECK(cond)                      \
  (cond) ? (void)0                            \
         : ::m1rl::internal::CheckVoidify() & \
               ::m1rl::internal::CheckFailure(__FILE__, __LINE__, #cond).stream()

#define M1RL_CHECK_OP_(a, b, op) M1RL_CHECK((a)op(b)) << "(" << (a) << " vs " << (b) << ") "
#define M1RL_CHECK_EQ(a, b) M1RL_CHECK_OP_(a, b, ==)
#define M1RL_CHECK_NE(a, b) M1RL_CHECK_OP_(a, b, !=)
#define M1RL_CHECK_LT(a, b) M1RL_CHECK_OP_(a, b, <)
#define M1RL_CHECK_LE(a, b) M1RL_CHECK_OP_(a, b, <=)
#define M1RL_CHECK_GT(a, b) M1RL_CHECK_OP_(a, b, >)
#define M1RL_CHECK_GE(a, b) M1RL_CHECK_OP_(a, b, >=)

#ifdef NDEBUG
#define M1RL_DCHECK(cond) \
  while (false) M1RL_CHECK(cond)
#else
#define M1RL_DCHECK(cond) M1RL_CHECK(cond)
#endif

#endif  // M1RL_COMMON_CHECK_H_
