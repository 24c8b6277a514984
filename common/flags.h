// Command-line flags declared once in a table that also prints --help (S21). Unknown flags and bad
// values are errors naming the flag; there are no settings in environment variables.
//
//   FlagSet flags("m1rl verify", "Scores one answer or a JSONL batch without a server.");
//   std::string domain = "math";
//   int64_t n = 1;
//   flags.AddString("domain", &domain, "math | logic | format");
//   flags.AddInt("n", &n, "how many");
//   absl::Status s = flags.Parse(args);   // args exclude the program and subcommand names
//   if (flags.help_requested()) { std::cout << flags.Usage(); return 0; }
// or, in a command's entry point, both early exits at once:
//   if (std::optional<int> exit_code = flags.ParseForCommand(args)) return *exit_code;
//
// Accepted forms: --name=value, --name value, --flag (bool true), --noflag / --flag=false (bool false).
// Repeated-string flags (AddRepeated) collect every occurrence. Positional arguments are an error
// unless AllowPositional() was called.
#ifndef M1RL_COMMON_FLAGS_H_
#define M1RL_COMMON_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace m1rl {

class FlagSet {
 public:
  FlagSet(std::string program, std::string description);

  void AddString(const std::string& name, std::string* value, const std::string& help);
  void AddInt(const std::string& name, int64_t* value, const std::string& help);
  void AddDouble(const std::string& name, double* value, const std::string& help);
  void AddBool(const std::string& name, bool* value, const std::string& help);
  void AddRepeated(const std::string& name, std::vector<std::string>* values, const std::string& help);
  void AllowPositional(std::vector<std::string>* positional, const std::string& what);

  // Parses `args`. Returns kInvalidArgument naming the program and the flag on unknown flags, missing
  // values or values of the wrong type. `--help` sets help_requested() and returns OK.
  absl::Status Parse(const std::vector<std::string>& args);
  // Convenience for main(): skips the first `skip` entries of argv.
  absl::Status Parse(int argc, char** argv, int skip);
  // Parse for a command's entry point. Returns the code to exit with now: `error_code` after writing
  // the error and the usage to stderr, or 0 after writing the usage to stdout for --help;
  // nullopt when the command should run.
  std::optional<int> ParseForCommand(const std::vector<std::string>& args, int error_code = 2);
  std::optional<int> ParseForCommand(int argc, char** argv, int skip, int error_code = 2);

  bool help_requested() const { return help_requested_; }
  // Whether the flag appeared on the command line (not just its default).
  bool IsSet(const std::string& name) const;
  std::string Usage() const;

 private:
  enum class Kind { kString, kInt, kDouble, kBool, kRepeated };
  struct Flag {
    std::string name;
    Kind kind;
    void* target;
    std::string help;
    std::string default_text;
    bool set = false;
  };
  Flag* Find(const std::string& name);
  const Flag* Find(const std::string& name) const;
  absl::Status Assign(Flag& flag, const std::string& value);
  absl::Status ParseArgs(const std::vector<std::string>& args);  // Parse without the program prefix
  std::optional<int> CommandExit(const absl::Status& parsed, int error_code) const;

  std::string program_;
  std::string description_;
  std::vector<Flag> flags_;
  std::vector<std::string>* positional_ = nullptr;
  std::string positional_what_;
  bool help_requested_ = false;
};

}  // namespace m1rl

#endif  // M1RL_COMMON_FLAGS_H_
