// m1rl train --config FILE [--set k=v]... [--resume auto|DIR]
// One rank of a (possibly distributed) RL or SFT run. Rank/world come from the launcher's environment
// (torchrun's RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT or Slurm's), see trainer/distributed.h.
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/cli.h"
#include "common/config.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/signals.h"
#include "trainer/device.h"
#include "trainer/distributed.h"
#include "trainer/trainer.h"
#include "trainer/trainer_config.h"

namespace {

int Fail(const std::string& what, const absl::Status& s) {
  M1RL_LOG(ERROR) << what << ": " << s;
  return 1;
}

int RunTrain(const std::vector<std::string>& args) {
  std::string config_path, resume, log_level = "info";
  std::vector<std::string> overrides;
  m1rl::FlagSet flags("m1rl train",
                      "Trains a policy (RL with CISPO/GRPO/DAPO, or SFT) as one rank of a run.");
  flags.AddString("config", &config_path, "YAML run config (configs/*.yaml)");
  flags.AddRepeated("set", &overrides, "override path=value, e.g. trainer.optim.lr=1e-5 (repeatable)");
  flags.AddString("resume", &resume,
                  "auto (newest complete checkpoint, else fresh) or a checkpoint directory");
  flags.AddString("log-level", &log_level, "info | warning | error");
  if (std::optional<int> exit_code = flags.ParseForCommand(args)) return *exit_code;
  if (config_path.empty()) {
    std::cerr << "m1rl train: --config is required\n" << flags.Usage();
    return 2;
  }
  m1rl::LogLevel level;
  if (!m1rl::ParseLogLevel(log_level, &level)) {
    std::cerr << "m1rl train: --log-level must be info, warning or error, got '" << log_level << "'\n";
    return 2;
  }
  m1rl::SetMinLogLevel(level);
  absl::StatusOr<m1rl::config::RunConfig> cfg = m1rl::trainer::LoadRunConfig(config_path, overrides);
  if (!cfg.ok()) return Fail("config", cfg.status());
  absl::StatusOr<m1rl::trainer::DistEnv> env = m1rl::trainer::ReadDistEnv(m1rl::trainer::ProcessEnv());
  if (!env.ok()) return Fail("distributed environment", env.status());
  m1rl::SetLogRank(env->rank);
  // Every rank's first line says where it runs: model.device auto/cuda take cuda:LOCAL_RANK.
  absl::StatusOr<m1rl::trainer::DeviceChoice> device = m1rl::trainer::ChooseDevice(
      cfg->model().device(), m1rl::trainer::ProbeDevices(), env->rank, env->local_rank);
  if (!device.ok()) return Fail("model.device", device.status());
  M1RL_LOG(INFO) << device->description;
  cfg->mutable_model()->set_device(device->device);
  const std::string backend = m1rl::trainer::BackendName(*cfg);
  const int timeout_s = m1rl::trainer::DistTimeoutSeconds(cfg->trainer());
  auto comm = m1rl::trainer::CreateCommunicator(*env, backend, std::chrono::seconds(timeout_s));
  if (!comm.ok()) return Fail("distributed setup", comm.status());
  if (env->rank == 0) {
    M1RL_LOG(INFO) << "rank 0 of " << env->world_size << " (" << env->source << ", " << (*comm)->backend()
                   << "); resolved config:\n"
                   << m1rl::DumpConfigYaml(*cfg);
  }
  auto trainer = m1rl::trainer::Trainer::Create(*cfg, comm->get());
  if (!trainer.ok()) return Fail("trainer setup", trainer.status());
  if (absl::Status s = (*trainer)->Resume(resume); !s.ok()) return Fail("resume", s);
  // SIGTERM (Slurm preemption) or SIGINT: finish the step, checkpoint, exit 0; a second one kills.
  if (absl::Status s = m1rl::InstallStopSignalHandlers(); !s.ok()) return Fail("signal handlers", s);
  (*trainer)->SetStopCheck(m1rl::StopSignalReceived);
  if (absl::Status s = (*trainer)->Run(); !s.ok()) return Fail("training", s);
  if (const int sig = (*trainer)->stopped_by(); sig != 0 && env->rank == 0) {
    M1RL_LOG(INFO) << m1rl::SignalName(sig) << " received: stopped cleanly after step " << (*trainer)->step()
                   << "; continue with --resume auto";
  }
  return 0;
}

}  // namespace

M1RL_REGISTER_COMMAND(train, "train", "train a policy: RL (CISPO/GRPO/DAPO) or SFT, data parallel", RunTrain);
