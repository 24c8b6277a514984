#include "reward/logic/logic_verifier.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/tasks.h"

namespace m1rl::reward {
namespace {

using ::testing::HasSubstr;

const char kDyckGold[] = R"({"family":"dyck","prefix":"([{}<"})";  // completion ">])"

VerifyOutcome Score(const std::string& gold, const std::string& response,
                    nlohmann::json options = nlohmann::json::object(), const CheckContext& ctx = {}) {
  static const std::unique_ptr<Verifier> kVerifier = NewLogicVerifier();
  VerifyInput in;
  in.domain = "logic";
  in.gold = gold;
  in.response = response;
  in.options = std::move(options);
  return kVerifier->Verify(in, ctx);
}

TEST(LogicVerifierTest, DomainAndVersion) {
  auto v = NewLogicVerifier();
  EXPECT_EQ(v->domain(), "logic");
  EXPECT_EQ(v->version(), kLogicVerifierVersion);
}

TEST(LogicVerifierTest, CorrectAnswerAfterThinking) {
  VerifyOutcome o = Score(kDyckGold, "<think>close < then [ then (</think> The answer: <answer>>])</answer>");
  EXPECT_EQ(o.status, rl::OK);
  EXPECT_EQ(o.verdict, rl::CORRECT);
  EXPECT_EQ(o.correctness, 1.0);
  EXPECT_EQ(o.format, 1.0);
  EXPECT_EQ(o.normalized_pred, ">])");
  EXPECT_THAT(o.normalized_gold, HasSubstr("\"family\":\"dyck\""));
}

TEST(LogicVerifierTest, WrongAnswerScoresZero) {
  VerifyOutcome o = Score(kDyckGold, "<answer>>)]</answer>");
  EXPECT_EQ(o.status, rl::OK);
  EXPECT_EQ(o.verdict, rl::INCORRECT);
  EXPECT_EQ(o.correctness, 0.0);
  EXPECT_EQ(o.format, 1.0);
  EXPECT_THAT(o.details, HasSubstr("dyck: closer"));
}

TEST(LogicVerifierTest, NoAnswerAndTruncatedTrace) {
  for (const char* response :
       {"I think it is >])", "<answer>>])", "<think>x <answer>>])</answer>",
        "<answer>>])</answer><think>still thinking", "<think><answer>>])</answer></think>"}) {
    VerifyOutcome o = Score(kDyckGold, response);
    EXPECT_EQ(o.status, rl::OK) << response;
    EXPECT_EQ(o.verdict, rl::NO_ANSWER) << response;
    EXPECT_EQ(o.correctness, 0.0);
    EXPECT_EQ(o.format, 0.0);
  }
  EXPECT_THAT(Score(kDyckGold, "<think>x").details, HasSubstr("truncated"));
}

TEST(LogicVerifierTest, SeveralBlocksScoreTheLastWithFormatZero) {
  VerifyOutcome o = Score(kDyckGold, "<answer>)</answer> or maybe <answer>>])</answer>");
  EXPECT_EQ(o.status, rl::OK);
  EXPECT_EQ(o.verdict, rl::CORRECT);
  EXPECT_EQ(o.format, 0.0);
  EXPECT_THAT(o.details, HasSubstr("2 answer blocks"));
  // Hedging never helps: the last block decides, even if an earlier one was right.
  VerifyOutcome h = Score(kDyckGold, "<answer>>])</answer> <answer>)</answer>");
  EXPECT_EQ(h.verdict, rl::INCORRECT);
  EXPECT_EQ(h.correctness, 0.0);
}

TEST(LogicVerifierTest, UnparseableAnswerIsInvalidInput) {
  VerifyOutcome o = Score(kDyckGold, "<answer>close them all</answer>");
  EXPECT_EQ(o.status, rl::INVALID_INPUT);
  EXPECT_THAT(o.details, HasSubstr("answer: 'c' at offset 0"));
}

TEST(LogicVerifierTest, MalformedGoldIsInvalidInputNamingTheField) {
  EXPECT_THAT(Score("", "<answer>1</answer>").details, HasSubstr("gold: empty"));
  EXPECT_THAT(Score("{not json", "<answer>1</answer>").details, HasSubstr("gold: not valid JSON"));
  EXPECT_THAT(Score("[1,2]", "<answer>1</answer>").details, HasSubstr("gold: expected a JSON object"));
  EXPECT_THAT(Score(R"({"prefix":"(("})", "<answer>))</answer>").details, HasSubstr("gold.family: missing"));
  EXPECT_THAT(Score(R"({"family":"chess"})", "<answer>e4</answer>").details,
              HasSubstr("gold.family: unknown family 'chess'"));
  VerifyOutcome o =
      Score(R"({"family":"sudoku","size":4,"box_rows":2,"box_cols":2,"grid":"12"})", "no answer here");
  EXPECT_EQ(o.status, rl::INVALID_INPUT);
  EXPECT_THAT(o.details, HasSubstr("gold.grid: expected 16 cells"));
  EXPECT_EQ(Score(R"({"family":"dyck","prefix":"(]"})", "<answer>)</answer>").status, rl::INVALID_INPUT);
}

TEST(LogicVerifierTest, OptionsFamilyMustAgree) {
  EXPECT_EQ(Score(R"({"prefix":"(("})", "<answer>))</answer>", {{"family", "dyck"}}).verdict, rl::CORRECT);
  VerifyOutcome o = Score(kDyckGold, "<answer>>])</answer>", {{"family", "sudoku"}});
  EXPECT_EQ(o.status, rl::INVALID_INPUT);
  EXPECT_THAT(o.details, HasSubstr("options.family"));
  EXPECT_EQ(Score(kDyckGold, "<answer>>])</answer>", {{"family", 3}}).status, rl::INVALID_INPUT);
}

TEST(LogicVerifierTest, DeadlineAndCancellation) {
  CheckContext expired;
  expired.deadline = Clock::now() - std::chrono::milliseconds(1);
  EXPECT_EQ(Score(kDyckGold, "<answer>>])</answer>", nlohmann::json::object(), expired).status, rl::TIMEOUT);
  std::atomic<bool> cancelled{true};
  CheckContext ctx;
  ctx.cancelled = &cancelled;
  EXPECT_EQ(Score(kDyckGold, "<answer>>])</answer>", nlohmann::json::object(), ctx).status, rl::CANCELLED);
}

// L1 for every family: a well-formed answer that is wrong for THIS instance scores 0, and a right
// one scores 1. Instances and answers by hand.
TEST(LogicVerifierTest, WellFormedWrongAnswerScoresZeroInEveryFamily) {
  struct Case {
    const char* gold;
    const char* right;
    const char* wrong;
  };
  const Case cases[] = {
      {R"({"family":"arith","expression":"3*4+2"})", "14", "18"},
      {R"({"family":"arith_add","a":47,"b":38})", "85", "75"},
      {R"({"family":"arith_add_heldout","a":12,"b":9})", "21", "22"},
      {R"({"family":"arith_chain","start":2,"steps":[{"op":"mul","arg":5},{"op":"sub","arg":1}]})", "9", "5"},
      {R"({"family":"base_conversion","value":"255","from_base":10,"to_base":16})", "FF", "FE"},
      {R"({"family":"calendar","question":"weekday","date":"2000-02-29"})", "Tuesday", "Wednesday"},
      {R"({"family":"calendar","question":"days_between","from":"2024-01-01","to":"2024-03-01"})", "60",
       "59"},
      {R"({"family":"cipher","cipher":"caesar","ciphertext":"KHOOR ZRUOG"})", "3", "4"},
      {R"({"family":"countdown","numbers":[2,3,7],"target":17})", "2*7+3", "2*7*3"},
      {R"({"family":"game24","numbers":[1,2,3,4],"target":24})", "1*2*3*4", "1+2+3+4"},
      {R"({"family":"cryptarithm","addends":["A","B"],"result":"C"})", "A=1,B=2,C=3", "A=1,B=2,C=4"},
      {R"({"family":"dyck","prefix":"(["})", "])", ")]"},
      {R"({"family":"futoshiki","size":3,"grid":"1........","less":[[1,2,1,3]]})", "123231312", "132213321"},
      {R"({"family":"graph_coloring","num_vertices":3,"num_colors":3,"edges":[[0,1],[1,2],[0,2]]})", "0 1 2",
       "0 1 0"},
      {R"({"family":"interval_scheduling","intervals":[[0,3],[2,5],[4,7]],"weights":[3,5,3]})", "1 3", "2"},
      {R"({"family":"kakuro","rows":2,"cols":2,"grid":"....","across":[5,5],"down":[5,5]})", "2332", "2323"},
      {R"({"family":"knights_knaves","statements":[{"kind":"is_knave","a":1},{"kind":"same","a":0,"b":1}]})",
       "knight knave", "knight knight"},
      {R"({"family":"maze_path","rows":3,"cols":4,"grid":"S..#.#.....G"})", "DDRRR", "DDRRRLR"},
      {R"({"family":"skyscrapers","size":3,"grid":".........","top":[3,0,0],"bottom":[0,0,0],"left":[0,0,0],"right":[0,0,0]})",
       "132213321", "213132321"},
      {R"({"family":"kenken","size":2,"cages":[{"op":"+","target":3,"cells":[[1,1],[1,2]]},{"op":"*","target":2,"cells":[[2,1],[2,2]]}]})",
       "2112", "1122"},
      {R"({"family":"nonogram","rows":2,"cols":2,"row_clues":[[2],[]],"col_clues":[[1],[1]]})", "##/..",
       "../##"},
      {R"({"family":"star_battle","size":4,"regions":"AAABCAABCDDBCDDB"})", "3 1 4 2", "1 3 2 4"},
      {R"({"family":"magic_square","size":3,"givens":[0,0,0,0,5,0,0,0,0]})", "2 7 6 9 5 1 4 3 8",
       "7 2 6 9 5 1 4 3 8"},
      {R"({"family":"minesweeper","rows":1,"cols":3,"mines":1,"board":".1."})", "..*", ".*."},
      {R"({"family":"n_queens","n":4,"fixed":[]})", "3 1 4 2", "1 3 1 4"},
      {R"({"family":"sat","num_vars":3,"clauses":[[1,2],[-1,3],[-2,-3]]})", "1 0 1", "1 1 1"},
      {R"({"family":"shortest_path","num_nodes":3,"edges":[[1,2,1],[2,3,1],[1,3,5]],"source":1,"target":3})",
       "1 2 3", "1 3"},
      {R"({"family":"sorting","values":[3,1,2],"key":"value","order":"asc"})", "1, 2, 3", "3, 2, 1"},
      {R"({"family":"subset_sum","numbers":[3,5,9],"target":12})", "3, 9", "5, 9"},
      {R"({"family":"hanoi","start":"AA","target":"C","max_moves":3})", "AB, AC, BC", "AC, AB, CB"},
      {R"({"family":"sudoku","size":4,"box_rows":2,"box_cols":2,"grid":"1234............"})",
       "1234341221434321", "1234341221433421"},
      {R"({"family":"topo_sort","num_tasks":3,"edges":[[2,0],[0,1]]})", "C A B", "A C B"},
      {R"({"family":"water_jug","capacities":[3,5],"target":4})",
       "fill B, pour B A, empty A, pour B A, fill B, pour B A",
       "fill B, pour B A, empty A, pour B A, fill B"},
      {R"({"family":"zebra","houses":2,"attributes":[{"name":"color","values":["red","blue"]},{"name":"pet","values":["dog","cat"]}],"clues":[{"kind":"in_house","a":"dog","house":2},{"kind":"same","a":"red","b":"cat"}]})",
       "red cat; blue dog", "blue cat; red dog"},
      {R"({"family":"long_mult","a":123,"b":45})", "5535", "5545"},
      {R"({"family":"long_mult_heldout","a":12,"b":34})", "408", "418"},
  };
  EXPECT_EQ(std::size(cases), logic::FamilyNames().size() + 1);  // calendar has two questions
  for (const Case& c : cases) {
    VerifyOutcome right = Score(c.gold, std::string("<answer>") + c.right + "</answer>");
    EXPECT_EQ(right.status, rl::OK) << c.gold << " " << right.details;
    EXPECT_EQ(right.correctness, 1.0) << c.gold << " " << right.details;
    VerifyOutcome wrong = Score(c.gold, std::string("<answer>") + c.wrong + "</answer>");
    EXPECT_EQ(wrong.status, rl::OK) << c.gold << " " << wrong.details;
    EXPECT_EQ(wrong.verdict, rl::INCORRECT) << c.gold;
    EXPECT_EQ(wrong.correctness, 0.0) << c.gold;
  }
}

TEST(LogicVerifierTest, GeneratedRowsVerifyThroughTheVerifier) {
  // The make-data contract end to end: row.answer is the gold, the witness in <answer> scores 1.
  for (const logic::TaskFamily* f : logic::AllFamilies()) {
    if (f->domain() != "logic") continue;
    absl::StatusOr<logic::GeneratedInstance> g = f->Generate(11, f->default_difficulty());
    ASSERT_TRUE(g.ok()) << g.status();
    const nlohmann::json row = logic::MakeRow(*g, "x");
    VerifyOutcome o =
        Score(row["answer"].get<std::string>(), "<think>...</think><answer>" + g->witness + "</answer>");
    EXPECT_EQ(o.verdict, rl::CORRECT) << f->name() << ": " << o.details;
  }
}

TEST(LogicVerifierTest, ConcurrentCallsAgree) {
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<int> correct{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i)
        correct += Score(kDyckGold, "<answer>>])</answer>").verdict == rl::CORRECT;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(correct.load(), 800);
}

}  // namespace
}  // namespace m1rl::reward
