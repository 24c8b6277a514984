# Logic tasks: task families with seeded generators and
# constraint-checking verifiers, and the "logic" Verifier. No LibTorch (S2).
m1rl_cc_library(NAME logic_tasks
  SRCS logic/tasks.cc logic/rational.cc logic/expr.cc logic/internal/family_util.cc
       logic/arith.cc logic/countdown.cc logic/cryptarithm.cc logic/dyck.cc logic/futoshiki.cc logic/graph_coloring.cc
       logic/n_queens.cc logic/sorting.cc logic/sudoku.cc logic/subset_sum.cc logic/hanoi.cc logic/long_mult.cc
       logic/topo_sort.cc logic/base_conversion.cc logic/calendar.cc
       logic/knights_knaves.cc logic/sat.cc
       logic/maze_path.cc
       logic/internal/latin_square.cc logic/skyscrapers.cc
       logic/kenken.cc
       logic/nonogram.cc
       logic/star_battle.cc
       logic/magic_square.cc
       logic/minesweeper.cc logic/zebra.cc logic/cipher.cc logic/interval_scheduling.cc
       logic/kakuro.cc logic/shortest_path.cc logic/water_jug.cc
  HDRS logic/tasks.h logic/rational.h logic/expr.h logic/rng.h logic/internal/family_util.h logic/internal/test_util.h
       logic/internal/latin_square.h
  DEPS m1rl::status m1rl::random nlohmann_json::nlohmann_json absl::status absl::statusor absl::strings)
m1rl_cc_library(NAME logic_verifier
  SRCS logic/logic_verifier.cc
  HDRS logic/logic_verifier.h
  DEPS m1rl::logic_tasks m1rl::reward_verifier)

m1rl_cc_test(NAME logic_rational_test SRCS logic/rational_test.cc logic/expr_test.cc
  DEPS m1rl::logic_tasks m1rl::status_matchers LABEL cpu TIMEOUT 60)
m1rl_cc_test(NAME logic_tasks_test SRCS logic/tasks_test.cc
  DEPS m1rl::logic_tasks m1rl::status_matchers LABEL cpu TIMEOUT 120)
m1rl_cc_test(NAME logic_families_test
  SRCS logic/arith_test.cc logic/countdown_test.cc logic/cryptarithm_test.cc logic/dyck_test.cc logic/futoshiki_test.cc
       logic/graph_coloring_test.cc logic/n_queens_test.cc logic/sorting_test.cc logic/sudoku_test.cc
       logic/subset_sum_test.cc logic/hanoi_test.cc logic/long_mult_test.cc
       logic/topo_sort_test.cc logic/base_conversion_test.cc logic/calendar_test.cc
       logic/knights_knaves_test.cc logic/sat_test.cc
       logic/maze_path_test.cc
       logic/skyscrapers_test.cc
       logic/kenken_test.cc
       logic/nonogram_test.cc
       logic/star_battle_test.cc
       logic/magic_square_test.cc
       logic/minesweeper_test.cc logic/zebra_test.cc logic/cipher_test.cc
       logic/interval_scheduling_test.cc logic/kakuro_test.cc logic/shortest_path_test.cc logic/water_jug_test.cc
  DEPS m1rl::logic_tasks m1rl::status_matchers LABEL cpu TIMEOUT 60)
m1rl_cc_test(NAME logic_verifier_test SRCS logic/logic_verifier_test.cc
  DEPS m1rl::logic_verifier m1rl::status_matchers LABEL cpu TIMEOUT 60)
# Runs the m1rl binary from the build root (it must be built first, as in a full build).
m1rl_cc_test(NAME logic_make_data_cli_test SRCS logic/make_data_cli_test.cc
  DEPS m1rl::logic_tasks LABEL cpu TIMEOUT 60)
