#include "common/flags.h"

#include <iomanip>
#include <iostream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace m1rl {

FlagSet::FlagSet(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {}

void FlagSet::AddString(const std::string& name, std::string* value, const std::string& help) {
  flags_.push_back({name, Kind::kString, value, help, *value});
}
void FlagSet::AddInt(const std::string& name, int64_t* value, const std::string& help) {
  flags_.push_back({name, Kind::kInt, value, help, absl::StrCat(*value)});
}
void FlagSet::AddDouble(const std::string& name, double* value, const std::string& help) {
  flags_.push_back({name, Kind::kDouble, value, help, absl::StrCat(*value)});
}
void FlagSet::AddBool(const std::string& name, bool* value, const std::string& help) {
  flags_.push_back({name, Kind::kBool, value, help, *value ? "true" : "false"});
}
void FlagSet::AddRepeated(const std::string& name, std::vector<std::string>* values,
                          const std::string& help) {
  flags_.push_back({name, Kind::kRepeated, values, help, "(repeatable)"});
}
void FlagSet::AllowPositional(std::vector<std::string>* positional, const std::string& what) {
  positional_ = positional;
  positional_what_ = what;
}

FlagSet::Flag* FlagSet::Find(const std::string& name) {
  for (auto& f : flags_)
    if (f.name == name) return &f;
  return nullptr;
}
const FlagSet::Flag* FlagSet::Find(const std::string& name) const {
  for (const auto& f : flags_)
    if (f.name == name) return &f;
  return nullptr;
}

bool FlagSet::IsSet(const std::string& name) const {
  const Flag* f = Find(name);
  return f != nullptr && f->set;
}

absl::Status FlagSet::Assign(Flag& flag, const std::string& value) {
  flag.set = true;
  switch (flag.kind) {
    case Kind::kString:
      *static_cast<std::string*>(flag.target) = value;
      return absl::OkStatus();
    case Kind::kRepeated:
      static_cast<std::vector<std::string>*>(flag.target)->push_back(value);
      return absl::OkStatus();
    case Kind::kInt: {
      int64_t v;
      if (!absl::SimpleAtoi(value, &v))
        return absl::InvalidArgumentError(
            absl::StrCat("--", flag.name, " expects an integer, got '", value, "'"));
      *static_cast<int64_t*>(flag.target) = v;
      return absl::OkStatus();
    }
    case Kind::kDouble: {
      double v;
      if (!absl::SimpleAtod(value, &v))
        return absl::InvalidArgumentError(
            absl::StrCat("--", flag.name, " expects a number, got '", value, "'"));
      *static_cast<double*>(flag.target) = v;
      return absl::OkStatus();
    }
    case Kind::kBool: {
      bool v;
      if (!absl::SimpleAtob(value, &v))
        return absl::InvalidArgumentError(
            absl::StrCat("--", flag.name, " expects true or false, got '", value, "'"));
      *static_cast<bool*>(flag.target) = v;
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unreachable flag kind");
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args) {
  // Every error names the program once: "m1rl train: --steps expects an integer, got 'x'".
  if (absl::Status s = ParseArgs(args); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(program_, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status FlagSet::ParseArgs(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    if (!absl::StartsWith(arg, "--")) {
      if (positional_ == nullptr)
        return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "' (see --help)"));
      positional_->push_back(arg);
      continue;
    }
    std::string body = arg.substr(2);
    std::string name = body, value;
    bool has_value = false;
    if (auto eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    Flag* flag = Find(name);
    if (flag == nullptr && !has_value && absl::StartsWith(name, "no")) {
      Flag* neg = Find(name.substr(2));
      if (neg != nullptr && neg->kind == Kind::kBool) {
        neg->set = true;
        *static_cast<bool*>(neg->target) = false;
        continue;
      }
    }
    if (flag == nullptr)
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    if (!has_value) {
      if (flag->kind == Kind::kBool) {
        value = "true";
      } else {
        if (i + 1 >= args.size())
          return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
        value = args[++i];
      }
    }
    if (auto s = Assign(*flag, value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status FlagSet::Parse(int argc, char** argv, int skip) {
  std::vector<std::string> args;
  for (int i = skip; i < argc; ++i) args.emplace_back(argv[i]);
  return Parse(args);
}

std::optional<int> FlagSet::CommandExit(const absl::Status& parsed, int error_code) const {
  if (!parsed.ok()) {
    std::cerr << parsed.message() << "\n" << Usage();
    return error_code;
  }
  if (help_requested_) {
    std::cout << Usage();
    return 0;
  }
  return std::nullopt;
}

std::optional<int> FlagSet::ParseForCommand(const std::vector<std::string>& args, int error_code) {
  return CommandExit(Parse(args), error_code);
}

std::optional<int> FlagSet::ParseForCommand(int argc, char** argv, int skip, int error_code) {
  return CommandExit(Parse(argc, argv, skip), error_code);
}

std::string FlagSet::Usage() const {
  std::ostringstream out;
  out << "usage: " << program_ << " [flags]";
  if (positional_ != nullptr) out << " " << positional_what_;
  out << "\n" << description_ << "\n\nflags:\n";
  for (const auto& f : flags_) {
    out << "  --" << std::left << std::setw(22) << f.name << " " << f.help;
    if (!f.default_text.empty()) out << " [default: " << f.default_text << "]";
    out << "\n";
  }
  out << "  --" << std::left << std::setw(22) << "help"
      << " print this message\n";
  return out.str();
}

}  // namespace m1rl
