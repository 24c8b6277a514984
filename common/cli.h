// Subcommand registry for the `m1rl` binary. Each module's command file registers itself:
//
//   M1RL_REGISTER_COMMAND(make_data, "make-data", "write a synthetic JSONL dataset", RunMakeData);
//   int RunVerify(const std::vector<std::string>& args);   // args after the subcommand
//
// Command files are compiled directly into the m1rl executable (tools/m1rl/*.cmake add them with
// target_sources), so the static registrars are never dropped by the linker.
#ifndef M1RL_COMMON_CLI_H_
#define M1RL_COMMON_CLI_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace m1rl::cli {

using CommandFn = std::function<int(const std::vector<std::string>& args)>;

struct Command {
  std::string help;
  CommandFn run;
};

inline std::map<std::string, Command>& Registry() {
  static std::map<std::string, Command> registry;
  return registry;
}

struct Registrar {
  Registrar(const std::string& name, const std::string& help, CommandFn fn) {
    Registry()[name] = Command{help, std::move(fn)};
  }
};

}  // namespace m1rl::cli

#define M1RL_REGISTER_COMMAND(id, name, help, fn) \
  static ::m1rl::cli::Registrar m1rl_command_registrar_##id(name, help, fn)

#endif  // M1RL_COMMON_CLI_H_
