#include "reward/genrm/length_bias.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/config.h"
#include "common/status_macros.h"

namespace m1rl::reward::genrm {
namespace {

// 1-based ranks, ties sharing their average rank.
std::vector<double> Ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    double avg = (static_cast<double>(i + j) / 2.0) + 1.0;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = avg;
    i = j + 1;
  }
  return ranks;
}

std::optional<double> Pearson(const std::vector<double>& x, const std::vector<double>& y) {
  double n = static_cast<double>(x.size());
  double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0;
  double sxx = 0;
  double syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0 || syy <= 0) return std::nullopt;
  return sxy / std::sqrt(sxx * syy);
}

}  // namespace

absl::StatusOr<LengthBiasOptions> ResolveLengthBiasOptions(const config::LengthBiasConfig& c) {
  LengthBiasOptions o;
  FieldChecker check;
  if (c.has_corr_threshold()) {
    check.InRange(c.corr_threshold(), -1.0, 1.0, false, false, "reward.genrm.length_bias.corr_threshold");
    o.corr_threshold = c.corr_threshold();
  }
  check.AtLeast(c.windows(), 0, "reward.genrm.length_bias.windows");
  if (c.windows() > 0) o.windows = c.windows();
  check.AtLeast(c.min_groups(), 0, "reward.genrm.length_bias.min_groups");
  if (c.min_groups() > 0) o.min_groups = c.min_groups();
  if (c.has_flat_accuracy_eps()) {
    check.NonNegative(c.flat_accuracy_eps(), "reward.genrm.length_bias.flat_accuracy_eps");
    o.flat_accuracy_eps = c.flat_accuracy_eps();
  }
  if (c.has_agreement_drop()) {
    check.InRange(c.agreement_drop(), 0.0, 1.0, false, true, "reward.genrm.length_bias.agreement_drop");
    o.agreement_drop = c.agreement_drop();
  }
  if (c.has_padded_win_rate()) {
    check.InRange(c.padded_win_rate(), 0.0, 1.0, false, true, "reward.genrm.length_bias.padded_win_rate");
    o.padded_win_rate = c.padded_win_rate();
  }
  if (c.has_probe_correct_threshold()) {
    check.Finite(c.probe_correct_threshold(), "reward.genrm.length_bias.probe_correct_threshold");
    o.probe_correct_threshold = c.probe_correct_threshold();
  }
  o.monitor = c.monitor();
  if (c.domains_size() > 0) o.domains.assign(c.domains().begin(), c.domains().end());
  for (const std::string& d : o.domains) {
    if (d.empty()) check.Add("reward.genrm.length_bias.domains", " must not contain an empty name");
  }
  if (c.has_residualise_beta()) {
    check.NonNegative(c.residualise_beta(), "reward.genrm.length_bias.residualise_beta");
    o.residualise_beta = c.residualise_beta();
  }
  M1RL_RETURN_IF_ERROR(check.Result());
  return o;
}

std::optional<double> SpearmanCorrelation(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.size() < 2) return std::nullopt;
  return Pearson(Ranks(x), Ranks(y));
}

std::vector<double> ResidualiseLength(const std::vector<double>& lengths, const std::vector<double>& rewards,
                                      double beta) {
  M1RL_CHECK(lengths.size() == rewards.size());
  std::vector<double> out = rewards;
  if (lengths.empty()) return out;
  double n = static_cast<double>(lengths.size());
  double mean = std::accumulate(lengths.begin(), lengths.end(), 0.0) / n;
  double var = 0;
  for (double l : lengths) var += (l - mean) * (l - mean);
  double sd = std::sqrt(var / n);
  if (sd <= 0) return out;
  for (size_t i = 0; i < out.size(); ++i) out[i] -= beta * (lengths[i] - mean) / sd;
  return out;
}

std::map<std::string, double> LengthBiasReport::Metrics() const {
  std::map<std::string, double> m;
  for (const DomainLengthStats& d : domains) {
    std::string p = absl::StrCat("genrm_length_bias/", d.domain, "/");
    m[p + "spearman"] = d.spearman;
    m[p + "groups"] = d.groups;
    m[p + "mean_length"] = d.mean_length;
    m[p + "windows_over"] = d.windows_over;
    m[p + "alarm"] = d.alarm ? 1.0 : 0.0;
    if (d.probes > 0) {
      m[p + "probe_accuracy"] = d.probe_accuracy;
      m[p + "probe_agreement"] = d.probe_agreement;
    }
    if (d.padded > 0) m[p + "padded_win_rate"] = d.padded_win_rate;
  }
  return m;
}

void LengthBiasMonitor::AddGroup(const std::string& domain, const std::vector<double>& lengths,
                                 const std::vector<double>& rewards) {
  M1RL_CHECK(lengths.size() == rewards.size());
  Window& w = window_[domain];
  for (double l : lengths) w.length_sum += l;
  w.responses += static_cast<int64_t>(lengths.size());
  if (lengths.size() < 3) return;
  std::optional<double> corr = SpearmanCorrelation(lengths, rewards);
  if (!corr.has_value()) return;
  w.corr_sum += *corr;
  ++w.groups;
}

void LengthBiasMonitor::AddProbe(const std::string& domain, double genrm_reward, bool rule_correct) {
  Window& w = window_[domain];
  ++w.probes;
  if (rule_correct) ++w.probe_correct;
  if ((genrm_reward >= options_.probe_correct_threshold) == rule_correct) ++w.probe_agree;
}

void LengthBiasMonitor::AddPaddedProbe(const std::string& domain, double original_reward,
                                       double padded_reward) {
  Window& w = window_[domain];
  ++w.padded;
  if (padded_reward > original_reward) ++w.padded_wins;
}

DomainLengthStats LengthBiasMonitor::Close(const std::string& domain, const Window& w, History* h) const {
  DomainLengthStats d;
  d.domain = domain;
  d.groups = w.groups;
  d.spearman = w.groups > 0 ? w.corr_sum / w.groups : 0.0;
  d.mean_length = w.responses > 0 ? w.length_sum / static_cast<double>(w.responses) : 0.0;
  d.probes = w.probes;
  d.padded = w.padded;
  std::optional<double> accuracy;
  if (w.probes > 0) {
    accuracy = static_cast<double>(w.probe_correct) / w.probes;
    d.probe_accuracy = *accuracy;
    d.probe_agreement = static_cast<double>(w.probe_agree) / w.probes;
  }
  if (w.groups >= options_.min_groups) {
    if (d.spearman > options_.corr_threshold) {
      if (h->streak == 0) h->streak_start_accuracy = accuracy.has_value() ? accuracy : h->last_accuracy;
      ++h->streak;
    } else {
      h->streak = 0;
    }
  }
  if (accuracy.has_value()) h->last_accuracy = accuracy;
  d.windows_over = h->streak;
  if (h->streak >= options_.windows) {
    bool flat = !h->streak_start_accuracy.has_value() || !h->last_accuracy.has_value() ||
                *h->last_accuracy - *h->streak_start_accuracy < options_.flat_accuracy_eps;
    if (flat) {
      d.reasons.push_back(absl::StrCat("spearman(length, reward) > ", options_.corr_threshold, " for ",
                                       h->streak, " windows with flat probe accuracy"));
    }
  }
  if (w.probes > 0) {
    if (!h->baseline_agreement.has_value()) h->baseline_agreement = d.probe_agreement;
    if (d.probe_agreement < *h->baseline_agreement - options_.agreement_drop) {
      d.reasons.push_back(absl::StrCat("probe agreement ", d.probe_agreement, " fell below its baseline ",
                                       *h->baseline_agreement, " by more than ", options_.agreement_drop));
    }
  }
  if (w.padded > 0) {
    d.padded_win_rate = static_cast<double>(w.padded_wins) / w.padded;
    if (d.padded_win_rate > options_.padded_win_rate) {
      d.reasons.push_back(absl::StrCat("padded probe variants beat their originals in ", d.padded_win_rate,
                                       " of pairs (> ", options_.padded_win_rate, ")"));
    }
  }
  d.alarm = !d.reasons.empty();
  return d;
}

LengthBiasReport LengthBiasMonitor::EndWindow(int64_t step) {
  LengthBiasReport report;
  report.step = step;
  for (const auto& [domain, w] : window_) {
    report.domains.push_back(Close(domain, w, &history_[domain]));
    report.alarm = report.alarm || report.domains.back().alarm;
  }
  window_.clear();
  if (report.alarm && hook_) hook_(report);
  return report;
}

}  // namespace m1rl::reward::genrm
