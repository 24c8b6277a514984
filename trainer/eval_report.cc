#include "trainer/eval_report.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/check.h"

namespace m1rl::trainer {

double PassAtK(int64_t n, int64_t c, int64_t k) {
  M1RL_CHECK(c >= 0 && c <= n && k >= 1 && k <= n) << "n=" << n << " c=" << c << " k=" << k;
  if (n - c < k) return 1.0;  // every k-subset holds a correct sample
  // C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)  (the Codex paper's numerically stable form).
  double all_wrong = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) all_wrong *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - all_wrong;
}

std::vector<int64_t> PassAtKValues(int64_t n) {
  std::vector<int64_t> ks;
  for (int64_t k = 1; k < n; k *= 2) ks.push_back(k);
  ks.push_back(n);
  return ks;
}

namespace {

void Add(const PromptOutcome& p, const std::vector<int64_t>& ks, DomainReport& r,
         std::map<int64_t, double>& pass_sum) {
  ++r.prompts;
  r.samples += p.samples;
  r.scored += p.scored;
  r.correct += p.correct;
  r.reward_sum += p.reward_sum;
  for (int64_t k : ks) {
    if (p.scored < k) continue;
    pass_sum[k] += PassAtK(p.scored, p.correct, k);
    ++r.pass_at[k].prompts;
  }
}

}  // namespace

std::vector<DomainReport> AggregateEval(const std::vector<PromptOutcome>& prompts, int64_t n) {
  M1RL_CHECK(n >= 1) << "n=" << n;
  const std::vector<int64_t> ks = PassAtKValues(n);
  std::map<std::string, DomainReport> by_domain;
  std::map<std::string, std::map<int64_t, double>> sums;
  DomainReport all;
  all.domain = "all";
  std::map<int64_t, double> all_sums;
  for (const PromptOutcome& p : prompts) {
    M1RL_CHECK(p.scored <= n && p.correct <= p.scored) << "scored=" << p.scored << " correct=" << p.correct;
    DomainReport& r = by_domain[p.domain];
    r.domain = p.domain;
    Add(p, ks, r, sums[p.domain]);
    Add(p, ks, all, all_sums);
  }
  auto finish = [&ks](DomainReport& r, const std::map<int64_t, double>& sum) {
    for (int64_t k : ks) {
      PassAtKValue& v = r.pass_at[k];
      v.value = v.prompts > 0 ? sum.at(k) / static_cast<double>(v.prompts) : 0.0;
    }
  };
  std::vector<DomainReport> out;
  out.reserve(by_domain.size() + 1);
  for (auto& [domain, r] : by_domain) {
    finish(r, sums[domain]);
    out.push_back(std::move(r));
  }
  finish(all, all_sums);
  out.push_back(std::move(all));
  return out;
}

std::string FormatEvalTable(const std::vector<DomainReport>& reports) {
  size_t width = 6;
  for (const DomainReport& r : reports) width = std::max(width, r.domain.size());
  const int w = static_cast<int>(width);
  std::string out = absl::StrFormat("%-*s %8s %8s %8s %8s %8s %8s %8s", w, "domain", "prompts", "samples",
                                    "scored", "unscored", "correct", "accuracy", "reward");
  std::vector<int64_t> ks;
  if (!reports.empty())
    for (const auto& [k, v] : reports.front().pass_at) ks.push_back(k);
  for (int64_t k : ks) absl::StrAppendFormat(&out, " %8s", absl::StrCat("pass@", k));
  out += "\n";
  std::string notes;
  for (const DomainReport& r : reports) {
    absl::StrAppendFormat(&out, "%-*s %8d %8d %8d %8d %8d %8.4f %8.4f", w, r.domain, r.prompts, r.samples,
                          r.scored, r.unscored(), r.correct, r.accuracy(), r.mean_reward());
    for (int64_t k : ks) {
      const PassAtKValue& v = r.pass_at.at(k);
      absl::StrAppendFormat(&out, " %8.4f", v.value);
      if (v.prompts < r.prompts) {
        absl::StrAppend(&notes, r.domain, " pass@", k, ": over ", v.prompts, " of ", r.prompts,
                        " prompts (the others have fewer than ", k, " scored samples)\n");
      }
    }
    out += "\n";
  }
  return out + notes;
}

}  // namespace m1rl::trainer
