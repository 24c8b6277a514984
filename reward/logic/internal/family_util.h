// Helpers shared by the task families: typed instance-field access with errors that name the field,
// answer tokenising, and the factory functions the registry (tasks.cc) calls.
#ifndef M1RL_REWARD_LOGIC_INTERNAL_FAMILY_UTIL_H_
#define M1RL_REWARD_LOGIC_INTERNAL_FAMILY_UTIL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "reward/logic/tasks.h"

namespace m1rl::reward::logic::internal {

// instance.<field> must be an integer in [lo, hi].
absl::StatusOr<int64_t> GetInt(const nlohmann::json& j, std::string_view field, int64_t lo, int64_t hi);
// instance.<field> must be a string of at most max_len bytes.
absl::StatusOr<std::string> GetString(const nlohmann::json& j, std::string_view field, size_t max_len);
// instance.<field> must be an array of integers in [lo, hi] with size in [min_size, max_size].
absl::StatusOr<std::vector<int64_t>> GetIntArray(const nlohmann::json& j, std::string_view field,
                                                 size_t min_size, size_t max_size, int64_t lo, int64_t hi);
// instance.<field> must be an array of [a, b] integer pairs in [lo, hi], at most max_size of them.
absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> GetPairArray(const nlohmann::json& j,
                                                                      std::string_view field, size_t max_size,
                                                                      int64_t lo, int64_t hi);

// Splits an answer into integer tokens separated by whitespace, commas or semicolons; one pair of
// enclosing [] or () is allowed. nullopt (with *why set) if any token is not a [+-]?digits integer
// of at most 18 digits, or there are more than max_tokens.
std::optional<std::vector<int64_t>> ParseIntList(std::string_view answer, size_t max_tokens,
                                                 std::string* why);

// Rewrites an "instance.<f>: ..." error from the getters above, applied to a sub-object, into
// "instance.<parent>.<f>: ...".
absl::Status NestField(const absl::Status& s, std::string_view parent);

std::string_view TrimSpace(std::string_view s);

CheckResult Correct(std::string normalized);
CheckResult Incorrect(std::string reason, std::string normalized);
CheckResult Unparseable(std::string reason);

// Answers longer than this are unparseable in every family (bounded work per check). It exceeds
// the longest valid answer any instance within the field limits admits (sorting: 1000 values of
// up to 10 digits with separators, about 13 KB), so the bound never rejects a correct answer.
inline constexpr size_t kMaxAnswerBytes = 65536;

std::unique_ptr<TaskFamily> NewArithFamily();
std::unique_ptr<TaskFamily> NewArithChainFamily();
std::unique_ptr<TaskFamily> NewBaseConversionFamily();
std::unique_ptr<TaskFamily> NewCalendarFamily();
std::unique_ptr<TaskFamily> NewCipherFamily();
std::unique_ptr<TaskFamily> NewCountdownFamily();
std::unique_ptr<TaskFamily> NewGame24Family();
std::unique_ptr<TaskFamily> NewCryptarithmFamily();
std::unique_ptr<TaskFamily> NewDyckFamily();
std::unique_ptr<TaskFamily> NewFutoshikiFamily();
std::unique_ptr<TaskFamily> NewGraphColoringFamily();
std::unique_ptr<TaskFamily> NewHanoiFamily();
std::unique_ptr<TaskFamily> NewIntervalSchedulingFamily();
std::unique_ptr<TaskFamily> NewKakuroFamily();
std::unique_ptr<TaskFamily> NewKnightsKnavesFamily();
std::unique_ptr<TaskFamily> NewMazePathFamily();
std::unique_ptr<TaskFamily> NewSkyscrapersFamily();
std::unique_ptr<TaskFamily> NewKenKenFamily();
std::unique_ptr<TaskFamily> NewNonogramFamily();
std::unique_ptr<TaskFamily> NewStarBattleFamily();
std::unique_ptr<TaskFamily> NewMagicSquareFamily();
std::unique_ptr<TaskFamily> NewMinesweeperFamily();
std::unique_ptr<TaskFamily> NewNQueensFamily();
std::unique_ptr<TaskFamily> NewSatFamily();
std::unique_ptr<TaskFamily> NewShortestPathFamily();
std::unique_ptr<TaskFamily> NewSortingFamily();
std::unique_ptr<TaskFamily> NewSubsetSumFamily();
std::unique_ptr<TaskFamily> NewSudokuFamily();
std::unique_ptr<TaskFamily> NewTopoSortFamily();
std::unique_ptr<TaskFamily> NewWaterJugFamily();
std::unique_ptr<TaskFamily> NewZebraFamily();
std::unique_ptr<TaskFamily> NewLongMultFamily();
std::unique_ptr<TaskFamily> NewLongMultHeldoutFamily();
std::unique_ptr<TaskFamily> NewAdditionFamily();
std::unique_ptr<TaskFamily> NewAdditionHeldoutFamily();

// The train / held-out split of two-operand problems (long_mult, arith_add): whether the unordered
// problem {a, b} is held out. A fixed hash of the pair, about 1/8 of the problems, independent of any
// seed: the "_heldout" family draws only problems inside it, its training sibling only outside.
bool HeldOutBucket(int64_t a, int64_t b);
// long_mult (long_mult.cc): the scratchpad demonstration "<think>...</think>\n<answer>a*b</answer>".
std::string LongMultDemonstration(int64_t a, int64_t b);

}  // namespace m1rl::reward::logic::internal

#endif  // M1RL_REWARD_LOGIC_INTERNAL_FAMILY_UTIL_H_
