// Run configuration (STYLE S20-22, ARCHITECTURE "Config"): YAML files in configs/ and `--set` overrides
// mapped onto the typed schema proto/config.proto (m1rl::config::RunConfig) by walking the YAML tree and
// the proto descriptors together, so every error names the full field path.
//
//   M1RL_ASSIGN_OR_RETURN(config::RunConfig cfg,
//                         LoadConfig("configs/quickstart.yaml", {"trainer.optim.lr=1e-6"}));
//   M1RL_LOG(INFO) << "resolved config:\n" << DumpConfigYaml(cfg);
//
// YAML -> proto mapping (the proto JSON mapping, read from YAML):
//  - keys are the proto field name (snake_case) or its JSON name (lowerCamel); a field given twice (both
//    spellings, or a duplicated key) is an error. Unknown keys are errors: "unknown key
//    trainer.optim.betass".
//  - messages are mappings, merged into what is already there; repeated fields are sequences and replace
//    the whole list; map fields are mappings; enums are their YAML names (below); bools are
//    true/false; integers are range-checked for their type (int32 overflow is an error; 1e6 is accepted
//    for an integer field because it is integral); doubles accept YAML's .inf/-.inf/.nan; floats must fit.
//    Numbers may be quoted ("1e-6"), as in the JSON mapping. bytes are base64.
//  - null (`key:` or `key: null`) clears the field (unset `optional` fields, default otherwise).
//  - errors: kInvalidArgument, message "<path>: <what>" with the YAML line and column when known, e.g.
//    `trainer.optim.lr: expected a number, got "abc" (line 12, column 9)` and `trainer.optim.betas[1]: ...`.
//
// A RunConfig returned by ParseConfigYaml / LoadConfig / ApplyOverride has every singular sub-message
// present (set, default-valued if not written), so DumpConfigYaml shows every section and
// Load(Dump(c)) == c exactly (field by field, presence included).
//
// Thread safety: all functions are pure (no globals) and may run concurrently.
#ifndef M1RL_COMMON_CONFIG_H_
#define M1RL_COMMON_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/generated_enum_reflection.h"
#include "google/protobuf/message.h"
#include "proto/config.pb.h"

namespace m1rl {

// ------------------------------------------------------------------------------------------ RunConfig

// Parses YAML text into a RunConfig (no overrides, no range validation).
absl::StatusOr<config::RunConfig> ParseConfigYaml(const std::string& yaml_text);

// Applies one override "a.b.c=value". `value` is parsed as YAML, so lists and mappings work
// (`model.layer_types=[linear_attention,full_attention]`, `trainer.optim={lr: 1e-6}` merges) and an
// empty value clears the field. A path segment may index a list element: `trainer.optim.betas[1]=0.99`
// (the index must exist). Errors (kInvalidArgument) quote the assignment and name the path:
// `--set trainer.optim.lrr=1: unknown key trainer.optim.lrr`.
absl::Status ApplyOverride(config::RunConfig* cfg, const std::string& assignment);

// Reads `yaml_path` and applies `overrides` in order; no range validation (each module validates what it
// owns; trainer/trainer_config.h composes them: LoadRunConfig). Errors are prefixed with the file path; a
// missing file is kNotFound.
absl::StatusOr<config::RunConfig> LoadConfig(const std::string& yaml_path,
                                             const std::vector<std::string>& overrides = {});

// YAML for `cfg`: every field in declaration order with snake_case keys; unset `optional` fields and
// unset oneof members are omitted; doubles in shortest round-trip form.
std::string DumpConfigYaml(const config::RunConfig& cfg);

// ----------------------------------------------------------------------------------- enum names
//
// One spelling per enum value, derived by a fixed rule: an enum whose every value starts with its type
// name in UPPER_SNAKE_CASE plus "_" is written as the rest of the value name, lower-cased
// (ModelConfig.HeadPrecision HEAD_PRECISION_IEEE_FP32 <-> `ieee_fp32`, TrainerConfig.Mode MODE_RL <-> `rl`).
// Enums outside the rule (rl.proto's) are written as their value names (numbers are accepted too).

bool HasYamlNames(const google::protobuf::EnumDescriptor* type);
std::string EnumValueYamlName(const google::protobuf::EnumValueDescriptor* value);
// nullptr when no value of `type` is spelt `name`.
const google::protobuf::EnumValueDescriptor* FindEnumValueByYamlName(
    const google::protobuf::EnumDescriptor* type, std::string_view name);
// Every YAML name of `type`, ", "-separated, in declaration order.
std::string EnumYamlNames(const google::protobuf::EnumDescriptor* type);

// The YAML name of a generated enum value: YamlName(config::TrainerConfig::MODE_RL) == "rl".
template <typename E>
std::string YamlName(E value) {
  const google::protobuf::EnumDescriptor* type = google::protobuf::GetEnumDescriptor<E>();
  const google::protobuf::EnumValueDescriptor* v = type->FindValueByNumber(static_cast<int>(value));
  return v != nullptr ? EnumValueYamlName(v) : std::to_string(static_cast<int>(value));
}

// Collects every violation of a config section, each "<path> <what>"; Result() is kInvalidArgument with
// all of them "; "-separated (`trainer.optim.betas[1] must be in [0, 1), got 1.5`), or OK. Each module's
// Validate*Config uses one, so a run config reports every problem at once.
class FieldChecker {
 public:
  void Positive(double v, const std::string& path);     // finite and > 0
  void NonNegative(double v, const std::string& path);  // finite and >= 0
  void Finite(double v, const std::string& path);
  // lo <= v < hi, or lo <= v <= hi with hi_inclusive; "(" bounds with lo_exclusive.
  void InRange(double v, double lo, double hi, bool lo_exclusive, bool hi_inclusive, const std::string& path);
  void AtLeast(int64_t v, int64_t min, const std::string& path);
  void Add(const std::string& path, const std::string& what);  // what: " must ..." (leading space)
  void Merge(const absl::Status& s);                           // adds s's message unless OK
  absl::Status Result() const;

 private:
  std::vector<std::string> errors_;
};

// ------------------------------------------------- the same machinery for any message (e.g. a tool's)

// Merges YAML text into `msg` (mapping rules above). On error `msg` may be partly updated.
absl::Status MergeYamlIntoMessage(const std::string& yaml_text, google::protobuf::Message* msg);
// As ApplyOverride, for any message.
absl::Status ApplyOverrideToMessage(const std::string& assignment, google::protobuf::Message* msg);
// As DumpConfigYaml, for any message (sub-messages are shown even when unset).
std::string DumpMessageYaml(const google::protobuf::Message& msg);
// Sets every singular, non-oneof sub-message field, recursively (a message type already on the path is
// not expanded again, so recursive schemas terminate).
void PopulateSubmessages(google::protobuf::Message* msg);

}  // namespace m1rl

#endif  // M1RL_COMMON_CONFIG_H_
