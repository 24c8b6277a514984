#include "reward/math/math_fuzz_entry.h"

#include <string>
#include <string_view>

#include "common/check.h"
#include "reward/math/compare.h"
#include "reward/math/exact.h"
#include "reward/math/extract.h"
#include "reward/math/normalize.h"
#include "reward/math/parser.h"

namespace m1rl::reward::math {

void MathFuzzOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ExtractOptions eo;
  eo.mode = ExtractMode::kEval;
  Extraction ex = ExtractAnswer(text, eo);
  for (std::string_view span : {std::string_view{ex.answer}, text}) {
    ValueAndUnit vu = SplitUnit(NormalizeLatex(span));
    for (bool thousands : {false, true}) {
      ParseOptions po;
      po.allow_thousands = thousands;
      absl::StatusOr<NodeP> tree = ParseAnswer(vu.value, po);
      if (!tree.ok()) continue;
      M1RL_CHECK(CountNodes(**tree) <= 2 * kMaxNodes) << CountNodes(**tree);
      std::string printed = Print(**tree);
      absl::StatusOr<NodeP> again = ParseAnswer(printed, po);
      // Printing may lengthen a span past the 2 KB limit or add nodes; everything else must round-trip.
      if (!again.ok() && absl::IsResourceExhausted(again.status())) continue;
      M1RL_CHECK(again.ok()) << "printed form does not parse: '" << printed << "' from '" << vu.value
                             << "': " << again.status();
      M1RL_CHECK(Print(**again) == printed)
          << "round trip changed '" << printed << "' to '" << Print(**again) << "'";
      EvalRational(**tree);
      EvalApprox(**tree);
      CheckContext ctx;
      for (const char* g : {"1", "x+1", "(1,2)", "x=1", "[0,1)", "\\{1,2\\}"}) {
        absl::StatusOr<NodeP> gt = ParseAnswer(g);
        M1RL_CHECK(gt.ok());
        CompareAnswers(*gt, *tree, CompareOptions{}, /*cas=*/nullptr, ctx);
      }
    }
  }
}

}  // namespace m1rl::reward::math
