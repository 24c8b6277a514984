// The data mixture data.sources (proto/config_trainer.proto DataSourceConfig): which source each prompt of
// a step comes from. Pure (no torch). Per step the weights come from each source's schedule (constant,
// linear ramp over steps, or one weight per trainer.stages entry); draw j of step s picks a source with a
// uniform from MixSeeds(seed, s, j), so the order depends on (seed, step) only and a resumed run repeats
// it. The rows within a source come from that source's PromptSampler (trainer/dataset.h) at the source's
// cursor, which DataMixture keeps: per-source consumed counts, checked against the source's row count
// (wrap = false: running out is an error naming the source; wrap: the sampler's next epoch).
//
// The single-file data.train_path is the one-source mixture {name "train", weight 1, wrap}.
#ifndef M1RL_TRAINER_DATA_MIXTURE_H_
#define M1RL_TRAINER_DATA_MIXTURE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "proto/config.pb.h"

namespace m1rl::trainer {

// data.sources: every violation naming its path (data.sources[1].ramp.end_step ...). `num_stages` is
// trainer.stages_size() (per_stage needs one weight per stage). data.sources with data.train_path is an
// error (one or the other).
absl::Status ValidateDataSources(const config::DataConfig& data, int num_stages);

// data.sources, or the one source {name "train", path train_path, weight 1, wrap} without them.
std::vector<config::DataSourceConfig> ResolvedSources(const config::DataConfig& data);

// The unnormalised weight of `source` at `step` (0-based) in stage `stage`.
double SourceWeight(const config::DataSourceConfig& source, int64_t step, int stage);

struct MixtureDraw {
  int source = 0;        // index into the sources
  int64_t position = 0;  // the source's stream position (its PromptSampler cursor before this draw)
};

class DataMixture {
 public:
  // REQUIRES: ValidateDataSources ok; num_rows.size() == sources.size(), each >= 1.
  DataMixture(std::vector<config::DataSourceConfig> sources, std::vector<int64_t> num_rows, uint64_t seed);

  int num_sources() const { return static_cast<int>(sources_.size()); }
  const config::DataSourceConfig& source(int i) const { return sources_[static_cast<size_t>(i)]; }

  // The normalised weights at (step, stage). kInvalidArgument when they sum to 0.
  absl::StatusOr<std::vector<double>> Weights(int64_t step, int stage) const;

  // The `count` draws of `step` (the global batch, the same on every rank); advances the per-source
  // cursors. kOutOfRange naming the source when a wrap = false source has no rows left (the cursors are
  // unchanged then).
  absl::StatusOr<std::vector<MixtureDraw>> NextBatch(int64_t step, int stage, int64_t count);

  int64_t consumed(int i) const { return consumed_[static_cast<size_t>(i)]; }
  // {"consumed": {name: count, ...}} for the checkpoint; Restore checks every source is present.
  nlohmann::json State() const;
  absl::Status Restore(const nlohmann::json& state);

 private:
  std::vector<config::DataSourceConfig> sources_;
  std::vector<int64_t> num_rows_;
  uint64_t seed_;
  std::vector<int64_t> consumed_;
};

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_DATA_MIXTURE_H_
