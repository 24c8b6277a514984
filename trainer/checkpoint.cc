#include "trainer/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"
#include "trainer/sync_status.h"

namespace m1rl::trainer {
namespace fs = std::filesystem;
namespace {

constexpr char kPrefix[] = "step_";
constexpr char kTmpPrefix[] = ".tmp.step_";

absl::Status FsError(const std::string& what, const std::string& path, const std::error_code& ec) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", ec.message()));
}

bool Ignored(const std::string& path, const std::vector<std::string>& ignored) {
  for (const std::string& p : ignored) {
    if (path == p || (path.size() > p.size() && path.compare(0, p.size(), p) == 0 && path[p.size()] == '.'))
      return true;
  }
  return false;
}

std::string FieldValueText(const google::protobuf::Message& m, const google::protobuf::FieldDescriptor* f,
                           int index) {
  std::string out;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.PrintFieldValueToString(m, f, index, &out);
  return out.empty() ? "\"\"" : out;
}

std::optional<std::string> FirstDifference(const google::protobuf::Message& a,
                                           const google::protobuf::Message& b, const std::string& prefix,
                                           const std::vector<std::string>& ignored) {
  const google::protobuf::Descriptor* d = a.GetDescriptor();
  const google::protobuf::Reflection* ra = a.GetReflection();
  const google::protobuf::Reflection* rb = b.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    const std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (Ignored(path, ignored)) continue;
    if (f->is_repeated()) {
      const int na = ra->FieldSize(a, f), nb = rb->FieldSize(b, f);
      if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        if (na != nb) return absl::StrCat(path, ": checkpoint has ", na, " entries, this run has ", nb);
        for (int j = 0; j < na; ++j) {
          auto diff = FirstDifference(ra->GetRepeatedMessage(a, f, j), rb->GetRepeatedMessage(b, f, j),
                                      absl::StrCat(path, "[", j, "]"), ignored);
          if (diff) return diff;
        }
        continue;
      }
      std::string va, vb;
      for (int j = 0; j < na; ++j) absl::StrAppend(&va, j ? ", " : "", FieldValueText(a, f, j));
      for (int j = 0; j < nb; ++j) absl::StrAppend(&vb, j ? ", " : "", FieldValueText(b, f, j));
      if (va != vb) return absl::StrCat(path, ": checkpoint has [", va, "], this run has [", vb, "]");
      continue;
    }
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      auto diff = FirstDifference(ra->GetMessage(a, f), rb->GetMessage(b, f), path, ignored);
      if (diff) return diff;
      continue;
    }
    const bool ha = !f->has_presence() || ra->HasField(a, f), hb = !f->has_presence() || rb->HasField(b, f);
    const std::string va = ha ? FieldValueText(a, f, -1) : "(unset)",
                      vb = hb ? FieldValueText(b, f, -1) : "(unset)";
    if (va != vb) return absl::StrCat(path, ": checkpoint has ", va, ", this run has ", vb);
  }
  return std::nullopt;
}

}  // namespace

std::string CheckpointDirName(int64_t step) { return absl::StrFormat("%s%08d", kPrefix, step); }

CheckpointManager::CheckpointManager(std::string root, int keep_last, Communicator* comm)
    : root_(std::move(root)), keep_last_(keep_last), comm_(comm) {}

absl::StatusOr<std::string> CheckpointManager::Save(
    int64_t step, const std::function<absl::Status(const std::string& dir)>& write_files) {
  const std::string name = CheckpointDirName(step);
  const std::string tmp = (fs::path(root_) / absl::StrCat(".tmp.", name)).string();
  const std::string final_dir = (fs::path(root_) / name).string();
  std::error_code ec;
  // Each phase ends in SyncStatus (also the barrier between phases): a failure on any rank is the same
  // error on every rank instead of a hang in the next barrier.
  absl::Status local = absl::OkStatus();
  if (comm_->rank() == 0) {
    fs::create_directories(root_, ec);
    if (ec) local = FsError("cannot create checkpoint root", root_, ec);
    if (local.ok()) {
      fs::remove_all(tmp, ec);
      fs::create_directories(tmp, ec);
      if (ec) local = FsError("cannot create", tmp, ec);
    }
  }
  M1RL_RETURN_IF_ERROR(SyncStatus(*comm_, local, absl::StrCat("creating checkpoint ", name)));
  if (!fs::is_directory(tmp)) {
    local = absl::InternalError(absl::StrCat("cannot see ", tmp));
  } else {
    local = write_files(tmp);
  }
  M1RL_RETURN_IF_ERROR(SyncStatus(*comm_, local, absl::StrCat("writing checkpoint ", name)));
  if (comm_->rank() == 0) local = Complete(step, tmp, final_dir);
  M1RL_RETURN_IF_ERROR(SyncStatus(*comm_, local, absl::StrCat("completing checkpoint ", name)));
  return final_dir;
}

// Rank 0: renames the written directory to its final name, marks it COMPLETE, prunes old checkpoints and
// leftovers of crashed saves.
absl::Status CheckpointManager::Complete(int64_t step, const std::string& tmp, const std::string& final_dir) {
  std::error_code ec;
  if (fs::exists(final_dir)) fs::remove_all(final_dir, ec);  // an incomplete leftover of a crash
  fs::rename(tmp, final_dir, ec);
  if (ec) return FsError("cannot rename checkpoint to", final_dir, ec);
  M1RL_RETURN_IF_ERROR(
      WriteFileAtomic((fs::path(final_dir) / kCompleteMarker).string(), absl::StrCat("step ", step, "\n")));
  if (keep_last_ > 0) {
    std::vector<std::string> complete = ListCompleteCheckpoints(root_);
    for (size_t i = 0; i + static_cast<size_t>(keep_last_) < complete.size(); ++i)
      fs::remove_all(complete[i], ec);
  }
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    const std::string n = entry.path().filename().string();
    if (n.rfind(kTmpPrefix, 0) == 0) fs::remove_all(entry.path(), ec);
  }
  return absl::OkStatus();
}

bool IsCompleteCheckpoint(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / kCompleteMarker, ec);
}

absl::StatusOr<int64_t> CheckpointStep(const std::string& dir) {
  std::string n = fs::path(dir).filename().string();
  if (n.empty()) n = fs::path(dir).parent_path().filename().string();
  int64_t step = 0;
  if (n.rfind(kPrefix, 0) != 0 || !absl::SimpleAtoi(n.substr(sizeof(kPrefix) - 1), &step)) {
    return absl::InvalidArgumentError(absl::StrCat("'", dir, "' is not a checkpoint directory (step_N)"));
  }
  return step;
}

std::vector<std::string> ListCompleteCheckpoints(const std::string& root) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return {};
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    absl::StatusOr<int64_t> step = CheckpointStep(entry.path().string());
    if (step.ok() && IsCompleteCheckpoint(entry.path().string()))
      found.emplace_back(*step, entry.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  out.reserve(found.size());
  for (auto& [s, p] : found) out.push_back(p);
  return out;
}

absl::StatusOr<std::string> FindLatestComplete(const std::string& root) {
  std::vector<std::string> all = ListCompleteCheckpoints(root);
  if (all.empty()) return absl::NotFoundError(absl::StrCat("no complete checkpoint under ", root));
  return all.back();
}

absl::StatusOr<std::string> ResolveResume(const std::string& resume, const std::string& root) {
  if (resume == "auto") return FindLatestComplete(root);
  if (!fs::is_directory(resume))
    return absl::NotFoundError(absl::StrCat("--resume ", resume, ": no such directory"));
  if (!IsCompleteCheckpoint(resume)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--resume ", resume, " has no COMPLETE marker (an interrupted save)"));
  }
  return resume;
}

absl::Status CheckResumeCompatible(const google::protobuf::Message& saved,
                                   const google::protobuf::Message& current,
                                   const std::vector<std::string>& ignored) {
  std::optional<std::string> diff = FirstDifference(saved, current, "", ignored);
  if (diff) return absl::FailedPreconditionError(absl::StrCat("config mismatch on resume: ", *diff));
  return absl::OkStatus();
}

}  // namespace m1rl::trainer
