#include "common/config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "yaml-cpp/yaml.h"

namespace m1rl {
namespace {

// Prefixes `s`'s message with `prefix` and ": ", keeping the code.
absl::Status Annotate(const absl::Status& s, const std::string& prefix) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(prefix, ": ", s.message()));
}

using ::google::protobuf::Descriptor;
using ::google::protobuf::EnumDescriptor;
using ::google::protobuf::EnumValueDescriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;

// ------------------------------------------------------------------------------------- scalar text

// Strict decimal/exponent double, plus YAML 1.2 core and JSON spellings of the non-finite values.
bool ParseDouble(std::string_view s, double* out) {
  static const std::set<std::string_view> kPosInf = {".inf",  ".Inf",  ".INF",    "+.inf",
                                                     "+.Inf", "+.INF", "Infinity"};
  static const std::set<std::string_view> kNegInf = {"-.inf", "-.Inf", "-.INF", "-Infinity"};
  static const std::set<std::string_view> kNan = {".nan", ".NaN", ".NAN", "NaN"};
  if (kPosInf.count(s)) {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (kNegInf.count(s)) {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (kNan.count(s)) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '.'))
    return false;
  // from_chars would accept "inf"/"nan" spellings; those were handled above, so require a digit.
  if (std::none_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return false;
  }
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, std::chars_format::general);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Shortest round-trip text of v at its own precision (float or double), YAML spellings for nan/inf.
template <typename T>
std::string FormatShortest(T v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  char buf[64];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, ptr);
  // "1" reads back as a double anyway; "1.0" tells a human (and other YAML readers) it is a float.
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string FormatDouble(double v) { return FormatShortest(v); }

std::string FormatFloat(float v) { return FormatShortest(v); }

// ------------------------------------------------------------------------------------ YAML -> proto

std::string Location(const YAML::Node& node, bool with_location) {
  if (!with_location) return "";
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return "";
  return absl::StrCat(" (line ", mark.line + 1, ", column ", mark.column + 1, ")");
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return absl::StrCat("\"", absl::CEscape(node.Scalar()), "\"");
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

const FieldDescriptor* FindField(const Descriptor* desc, std::string_view key) {
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    if (f->name() == key || f->json_name() == key) return f;
  }
  return nullptr;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// "; did you mean trainer.optim.betas?" when a field name is within edit distance 2.
std::string Suggestion(const Descriptor* desc, std::string_view key, const std::string& parent_path) {
  const FieldDescriptor* best = nullptr;
  size_t best_d = 3;
  for (int i = 0; i < desc->field_count(); ++i) {
    const size_t d =
        std::min(EditDistance(key, desc->field(i)->name()), EditDistance(key, desc->field(i)->json_name()));
    if (d < best_d) {
      best_d = d;
      best = desc->field(i);
    }
  }
  if (best == nullptr) return "";
  return absl::StrCat("; did you mean ", parent_path.empty() ? "" : parent_path + ".", best->name(), "?");
}

std::string JoinPath(const std::string& parent, std::string_view child) {
  return parent.empty() ? std::string(child) : absl::StrCat(parent, ".", std::string(child));
}

enum class StoreMode { kSet, kAdd, kSetAt };

class YamlToProto {
 public:
  explicit YamlToProto(bool with_location) : with_location_(with_location) {}

  // Merges a mapping into `msg`. null leaves `msg` unchanged.
  absl::Status MergeMessage(const YAML::Node& node, Message* msg, const std::string& path) {
    if (node.IsNull()) return absl::OkStatus();
    if (!node.IsMap()) return Error(node, path, absl::StrCat("expected a mapping, got ", Describe(node)));
    const Descriptor* desc = msg->GetDescriptor();
    std::map<const FieldDescriptor*, std::string> seen;  // field -> key spelling used
    std::map<const google::protobuf::OneofDescriptor*, std::string> oneofs_seen;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) {
        return Error(kv.first, path, absl::StrCat("keys must be plain names, got ", Describe(kv.first)));
      }
      const std::string key = kv.first.Scalar();
      const FieldDescriptor* f = FindField(desc, key);
      const std::string child = JoinPath(path, key);
      if (f == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unknown key ", child, Location(kv.first, with_location_), Suggestion(desc, key, path)));
      }
      if (auto it = seen.find(f); it != seen.end()) {
        return Error(kv.first, JoinPath(path, f->name()),
                     absl::StrCat("given twice (as \"", it->second, "\" and \"", key, "\")"));
      }
      seen[f] = key;
      if (const auto* oneof = f->real_containing_oneof(); oneof != nullptr && !kv.second.IsNull()) {
        if (auto it = oneofs_seen.find(oneof); it != oneofs_seen.end()) {
          return Error(kv.first, child,
                       absl::StrCat("\"", it->second, "\" and \"", key, "\" are alternatives (oneof ",
                                    oneof->name(), "); give one"));
        }
        oneofs_seen[oneof] = key;
      }
      M1RL_RETURN_IF_ERROR(SetField(kv.second, msg, f, JoinPath(path, f->name())));
    }
    return absl::OkStatus();
  }

  // Sets field `f` of `msg` from `node`: replaces lists and maps, merges messages, null clears.
  absl::Status SetField(const YAML::Node& node, Message* msg, const FieldDescriptor* f,
                        const std::string& path) {
    const Reflection* refl = msg->GetReflection();
    if (node.IsNull()) {
      refl->ClearField(msg, f);
      return absl::OkStatus();
    }
    if (f->is_map()) {
      if (!node.IsMap()) return Error(node, path, absl::StrCat("expected a mapping, got ", Describe(node)));
      refl->ClearField(msg, f);
      const FieldDescriptor* key_f = f->message_type()->map_key();
      const FieldDescriptor* value_f = f->message_type()->map_value();
      for (const auto& kv : node) {
        const std::string key_text = kv.first.IsScalar() ? kv.first.Scalar() : "?";
        const std::string entry_path = absl::StrCat(path, "[\"", absl::CEscape(key_text), "\"]");
        Message* entry = refl->AddMessage(msg, f);
        M1RL_RETURN_IF_ERROR(StoreScalar(kv.first, entry, key_f, entry_path, StoreMode::kSet, 0));
        if (value_f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          M1RL_RETURN_IF_ERROR(
              MergeMessage(kv.second, entry->GetReflection()->MutableMessage(entry, value_f), entry_path));
        } else {
          M1RL_RETURN_IF_ERROR(StoreScalar(kv.second, entry, value_f, entry_path, StoreMode::kSet, 0));
        }
      }
      return absl::OkStatus();
    }
    if (f->is_repeated()) {
      if (!node.IsSequence()) return Error(node, path, absl::StrCat("expected a list, got ", Describe(node)));
      refl->ClearField(msg, f);
      for (size_t i = 0; i < node.size(); ++i) {
        const std::string elem_path = absl::StrCat(path, "[", i, "]");
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          if (!node[i].IsMap()) {
            return Error(node[i], elem_path, absl::StrCat("expected a mapping, got ", Describe(node[i])));
          }
          M1RL_RETURN_IF_ERROR(MergeMessage(node[i], refl->AddMessage(msg, f), elem_path));
        } else {
          M1RL_RETURN_IF_ERROR(StoreScalar(node[i], msg, f, elem_path, StoreMode::kAdd, 0));
        }
      }
      return absl::OkStatus();
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!node.IsMap()) return Error(node, path, absl::StrCat("expected a mapping, got ", Describe(node)));
      return MergeMessage(node, refl->MutableMessage(msg, f), path);
    }
    return StoreScalar(node, msg, f, path, StoreMode::kSet, 0);
  }

  // Sets element `index` of repeated field `f` (which must exist).
  absl::Status SetElement(const YAML::Node& node, Message* msg, const FieldDescriptor* f, int index,
                          const std::string& path) {
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!node.IsMap()) return Error(node, path, absl::StrCat("expected a mapping, got ", Describe(node)));
      return MergeMessage(node, msg->GetReflection()->MutableRepeatedMessage(msg, f, index), path);
    }
    return StoreScalar(node, msg, f, path, StoreMode::kSetAt, index);
  }

 private:
  absl::Status Error(const YAML::Node& node, const std::string& path, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what, Location(node, with_location_)));
  }

  // Converts a scalar node to `f`'s type and stores it per `mode`.
  absl::Status StoreScalar(const YAML::Node& node, Message* msg, const FieldDescriptor* f,
                           const std::string& path, StoreMode mode, int index) {
    const Reflection* refl = msg->GetReflection();
    const char* expected = "a value";
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64:
        expected = "an integer";
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
        expected = "a number";
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        expected = "true or false";
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        expected = "a string";
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        expected = "an enum name";
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return Error(node, path, "internal: message field stored as a scalar");
    }
    if (!node.IsScalar())
      return Error(node, path, absl::StrCat("expected ", expected, ", got ", Describe(node)));
    const std::string& text = node.Scalar();
    const std::string got = absl::StrCat(", got ", Describe(node));

#define M1RL_STORE_(Type, value)                     \
  do {                                               \
    if (mode == StoreMode::kSet) {                   \
      refl->Set##Type(msg, f, value);                \
    } else if (mode == StoreMode::kAdd) {            \
      refl->Add##Type(msg, f, value);                \
    } else {                                         \
      refl->SetRepeated##Type(msg, f, index, value); \
    }                                                \
  } while (0)

    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double v;
        if (!ParseDouble(text, &v)) return Error(node, path, absl::StrCat("expected a number", got));
        M1RL_STORE_(Double, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double v;
        if (!ParseDouble(text, &v)) return Error(node, path, absl::StrCat("expected a number", got));
        if (std::isfinite(v) && std::fabs(v) > std::numeric_limits<float>::max()) {
          return Error(node, path, absl::StrCat(text, " is out of range for float"));
        }
        // Parse again as float so the value is the float nearest the text (no double rounding).
        float fv = static_cast<float>(v);
        if (std::isfinite(v)) {
          std::string_view s = text;
          if (!s.empty() && s[0] == '+') s.remove_prefix(1);
          std::from_chars(s.data(), s.data() + s.size(), fv, std::chars_format::general);
        }
        M1RL_STORE_(Float, fv);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64: {
        std::string_view s = text;
        if (!s.empty() && s[0] == '+') s.remove_prefix(1);
        bool negative = !s.empty() && s[0] == '-';
        int64_t iv = 0;
        uint64_t uv = 0;
        bool ok = false;
        if (negative) {
          auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), iv);
          ok = ec == std::errc() && p == s.data() + s.size();
        } else {
          auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), uv);
          ok = ec == std::errc() && p == s.data() + s.size();
          if (!ok && ec == std::errc::result_out_of_range) {
            return Error(node, path, absl::StrCat(text, " is out of range for ", f->cpp_type_name()));
          }
        }
        if (!ok) {
          // Integral values written with an exponent or a fraction of zero: 1e6, 3.0.
          double d;
          if (!ParseDouble(text, &d) || !std::isfinite(d) || d != std::floor(d)) {
            return Error(node, path, absl::StrCat("expected an integer", got));
          }
          if (d < -9223372036854775808.0 || d >= 18446744073709551616.0) {
            return Error(node, path, absl::StrCat(text, " is out of range for ", f->cpp_type_name()));
          }
          negative = d < 0;
          if (negative) {
            iv = static_cast<int64_t>(d);
          } else {
            uv = static_cast<uint64_t>(d);
          }
        }
        auto out_of_range = [&](const std::string& lo, const std::string& hi) {
          return Error(
              node, path,
              absl::StrCat(text, " is out of range for ", f->cpp_type_name(), " [", lo, ", ", hi, "]"));
        };
        switch (f->cpp_type()) {
          case FieldDescriptor::CPPTYPE_INT32: {
            constexpr int64_t kMin = std::numeric_limits<int32_t>::min(),
                              kMax = std::numeric_limits<int32_t>::max();
            if (negative ? iv < kMin : uv > static_cast<uint64_t>(kMax)) {
              return out_of_range(absl::StrCat(kMin), absl::StrCat(kMax));
            }
            M1RL_STORE_(Int32, static_cast<int32_t>(negative ? iv : static_cast<int64_t>(uv)));
            break;
          }
          case FieldDescriptor::CPPTYPE_INT64: {
            constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
            if (!negative && uv > kMax) {
              return out_of_range(absl::StrCat(std::numeric_limits<int64_t>::min()), absl::StrCat(kMax));
            }
            M1RL_STORE_(Int64, negative ? iv : static_cast<int64_t>(uv));
            break;
          }
          case FieldDescriptor::CPPTYPE_UINT32: {
            constexpr uint64_t kMax = std::numeric_limits<uint32_t>::max();
            if (negative || uv > kMax) return out_of_range("0", absl::StrCat(kMax));
            M1RL_STORE_(UInt32, static_cast<uint32_t>(uv));
            break;
          }
          default: {
            if (negative) return out_of_range("0", absl::StrCat(std::numeric_limits<uint64_t>::max()));
            M1RL_STORE_(UInt64, uv);
            break;
          }
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v;
        if (text == "true" || text == "True" || text == "TRUE") {
          v = true;
        } else if (text == "false" || text == "False" || text == "FALSE") {
          v = false;
        } else {
          return Error(node, path, absl::StrCat("expected true or false", got));
        }
        M1RL_STORE_(Bool, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string v = text;
        if (f->type() == FieldDescriptor::TYPE_BYTES && !absl::Base64Unescape(text, &v)) {
          return Error(node, path, absl::StrCat("expected base64 bytes", got));
        }
        M1RL_STORE_(String, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const EnumDescriptor* ed = f->enum_type();
        const EnumValueDescriptor* ev = FindEnumValueByYamlName(ed, text);
        if (ev == nullptr && !HasYamlNames(ed)) {
          // An enum outside the naming rule (e.g. rl.proto's): its value names, or numbers.
          int64_t number;
          auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
          if (ec == std::errc() && p == text.data() + text.size() &&
              number >= std::numeric_limits<int>::min() && number <= std::numeric_limits<int>::max()) {
            ev = ed->FindValueByNumber(static_cast<int>(number));
          }
        }
        if (ev == nullptr) {
          return Error(node, path, absl::StrCat("expected one of ", EnumYamlNames(ed), got));
        }
        M1RL_STORE_(Enum, ev);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        break;
    }
#undef M1RL_STORE_
    return Error(node, path, "internal: unhandled field type");
  }

  bool with_location_;
};

absl::StatusOr<YAML::Node> LoadYaml(const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("YAML syntax error (line ", e.mark.line + 1, ", column ",
                                                   e.mark.column + 1, "): ", e.msg));
  }
}

// ------------------------------------------------------------------------------------ proto -> YAML

bool NeedsQuotes(const std::string& s) {
  static const std::set<std::string> kSpecial = {
      "~",  "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "YES",
      "no", "No",   "NO",   "on",   "On",   "ON",   "off",  "Off",   "OFF",   "y",     "Y",   "n",   "N"};
  if (s.empty() || kSpecial.count(s)) return true;
  if (std::isspace(static_cast<unsigned char>(s.front())) ||
      std::isspace(static_cast<unsigned char>(s.back()))) {
    return true;
  }
  double d;
  return ParseDouble(s, &d);
}

void EmitString(YAML::Emitter& e, const std::string& s) {
  if (NeedsQuotes(s)) e << YAML::DoubleQuoted;
  e << s;
}

void EmitScalar(YAML::Emitter& e, const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      e << absl::StrCat(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      e << absl::StrCat(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      e << absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      e << absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      e << FormatDouble(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      e << FormatFloat(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      e << ((rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false");
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      e << EnumValueYamlName(rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f));
      break;
    case FieldDescriptor::CPPTYPE_STRING: {
      const std::string v = rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        EmitString(e, absl::Base64Escape(v));
      } else {
        EmitString(e, v);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
}

// Whether EmitMessage writes at least one key for `m` (see the omission rules there).
bool HasEmittedField(const Message& m) {
  const Descriptor* desc = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    if (f->is_repeated()) return true;
    if (f->real_containing_oneof() != nullptr && !r->HasField(m, f)) continue;
    if (f->has_presence() && f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE && !r->HasField(m, f))
      continue;
    return true;
  }
  return false;
}

void EmitMessage(YAML::Emitter& e, const Message& m) {
  const Descriptor* desc = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  if (!HasEmittedField(m)) {
    e << YAML::Flow << YAML::BeginMap << YAML::EndMap;  // "key: {}" rather than "key:\n  {}"
    return;
  }
  e << YAML::BeginMap;
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    if (f->is_repeated()) {
      e << YAML::Key << f->name() << YAML::Value;
      const int n = r->FieldSize(m, f);
      if (f->is_map()) {
        const FieldDescriptor* kf = f->message_type()->map_key();
        const FieldDescriptor* vf = f->message_type()->map_value();
        e << YAML::BeginMap;
        for (int j = 0; j < n; ++j) {
          const Message& entry = r->GetRepeatedMessage(m, f, j);
          e << YAML::Key;
          EmitScalar(e, entry, kf, -1);
          e << YAML::Value;
          if (vf->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
            EmitMessage(e, entry.GetReflection()->GetMessage(entry, vf));
          } else {
            EmitScalar(e, entry, vf, -1);
          }
        }
        e << YAML::EndMap;
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        e << YAML::BeginSeq;
        for (int j = 0; j < n; ++j) EmitMessage(e, r->GetRepeatedMessage(m, f, j));
        e << YAML::EndSeq;
      } else {
        e << YAML::Flow << YAML::BeginSeq;
        for (int j = 0; j < n; ++j) EmitScalar(e, m, f, j);
        e << YAML::EndSeq;
      }
      continue;
    }
    // Omitted: unset oneof members and unset `optional` scalars (absent means "not given").
    if (f->has_presence() && f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE && !r->HasField(m, f))
      continue;
    if (f->real_containing_oneof() != nullptr && !r->HasField(m, f)) continue;
    e << YAML::Key << f->name() << YAML::Value;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      EmitMessage(e, r->GetMessage(m, f));
    } else {
      EmitScalar(e, m, f, -1);
    }
  }
  e << YAML::EndMap;
}

void PopulateRecursive(Message* msg, std::vector<const Descriptor*>* on_path) {
  const Descriptor* desc = msg->GetDescriptor();
  on_path->push_back(desc);
  const Reflection* r = msg->GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    if (f->is_map() || f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->real_containing_oneof() != nullptr) continue;
    if (std::find(on_path->begin(), on_path->end(), f->message_type()) != on_path->end()) continue;
    if (f->is_repeated()) {  // also each element of a list of messages (trainer.stages, data.sources)
      for (int j = 0; j < r->FieldSize(*msg, f); ++j)
        PopulateRecursive(r->MutableRepeatedMessage(msg, f, j), on_path);
      continue;
    }
    PopulateRecursive(r->MutableMessage(msg, f), on_path);
  }
  on_path->pop_back();
}

// ------------------------------------------------------------------------------------------ overrides

struct PathSegment {
  std::string name;
  int index = -1;  // >= 0: list element
};

absl::StatusOr<std::vector<PathSegment>> ParsePath(const std::string& path) {
  std::vector<PathSegment> out;
  for (absl::string_view part_view : absl::StrSplit(path, '.')) {
    const std::string part(part_view);
    PathSegment seg;
    std::string_view p = part;
    if (const size_t lb = p.find('['); lb != std::string_view::npos) {
      if (p.back() != ']' || lb + 2 > p.size() - 1) {
        return absl::InvalidArgumentError(absl::StrCat("bad path segment \"", part, "\" in ", path));
      }
      const std::string_view digits = p.substr(lb + 1, p.size() - lb - 2);
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seg.index);
      if (ec != std::errc() || ptr != digits.data() + digits.size() || seg.index < 0) {
        return absl::InvalidArgumentError(absl::StrCat("bad list index in \"", part, "\" in ", path));
      }
      p = p.substr(0, lb);
    }
    if (p.empty()) return absl::InvalidArgumentError(absl::StrCat("empty path segment in ", path));
    seg.name = std::string(p);
    out.push_back(std::move(seg));
  }
  return out;
}

absl::Status ApplyOverrideImpl(const std::string& assignment, Message* msg) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat("expected path=value, got \"", assignment, "\""));
  }
  const std::string path_text = std::string(absl::StripAsciiWhitespace(assignment.substr(0, eq)));
  const std::string value_text = assignment.substr(eq + 1);
  M1RL_ASSIGN_OR_RETURN(std::vector<PathSegment> path, ParsePath(path_text));
  M1RL_ASSIGN_OR_RETURN(YAML::Node value, LoadYaml(value_text));

  Message* cur = msg;
  std::string walked;
  YamlToProto conv(/*with_location=*/false);
  for (size_t i = 0; i < path.size(); ++i) {
    const PathSegment& seg = path[i];
    const Descriptor* desc = cur->GetDescriptor();
    const FieldDescriptor* f = FindField(desc, seg.name);
    const std::string parent = walked;
    walked = JoinPath(walked, seg.name);
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown key ", walked, Suggestion(desc, seg.name, parent)));
    }
    walked = JoinPath(parent, f->name());
    const Reflection* r = cur->GetReflection();
    const bool last = i + 1 == path.size();
    if (seg.index >= 0) {
      if (!f->is_repeated() || f->is_map()) {
        return absl::InvalidArgumentError(
            absl::StrCat(walked, " is not a list; [", seg.index, "] cannot apply"));
      }
      const int size = r->FieldSize(*cur, f);
      walked = absl::StrCat(walked, "[", seg.index, "]");
      if (seg.index >= size) {
        return absl::InvalidArgumentError(
            absl::StrCat(walked, ": index out of range (the list has ", size, " elements)"));
      }
      if (last) return conv.SetElement(value, cur, f, seg.index, walked);
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        return absl::InvalidArgumentError(
            absl::StrCat(walked, " is a ", f->cpp_type_name(), ", not a message"));
      }
      cur = r->MutableRepeatedMessage(cur, f, seg.index);
      continue;
    }
    if (last) return conv.SetField(value, cur, f, walked);
    if (f->is_repeated()) {
      return absl::InvalidArgumentError(absl::StrCat(walked, " is a list; index it as ", walked, "[i]"));
    }
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      return absl::InvalidArgumentError(
          absl::StrCat(walked, " is a ", f->cpp_type_name(), ", not a message"));
    }
    cur = r->MutableMessage(cur, f);
  }
  return absl::OkStatus();
}

}  // namespace

// -------------------------------------------------------------------------------------- public API

absl::Status MergeYamlIntoMessage(const std::string& yaml_text, Message* msg) {
  M1RL_ASSIGN_OR_RETURN(YAML::Node root, LoadYaml(yaml_text));
  if (!root.IsNull() && !root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the top level must be a mapping of sections, got ", Describe(root)));
  }
  return YamlToProto(/*with_location=*/true).MergeMessage(root, msg, "");
}

absl::Status ApplyOverrideToMessage(const std::string& assignment, Message* msg) {
  return Annotate(ApplyOverrideImpl(assignment, msg), absl::StrCat("--set ", assignment));
}

std::string DumpMessageYaml(const Message& msg) {
  YAML::Emitter e;
  e.SetIndent(2);
  EmitMessage(e, msg);
  return std::string(e.c_str()) + "\n";
}

void PopulateSubmessages(Message* msg) {
  std::vector<const Descriptor*> on_path;
  PopulateRecursive(msg, &on_path);
}

absl::StatusOr<config::RunConfig> ParseConfigYaml(const std::string& yaml_text) {
  config::RunConfig cfg;
  M1RL_RETURN_IF_ERROR(MergeYamlIntoMessage(yaml_text, &cfg));
  PopulateSubmessages(&cfg);
  return cfg;
}

absl::Status ApplyOverride(config::RunConfig* cfg, const std::string& assignment) {
  absl::Status s = ApplyOverrideToMessage(assignment, cfg);
  PopulateSubmessages(cfg);
  return s;
}

absl::StatusOr<config::RunConfig> LoadConfig(const std::string& yaml_path,
                                             const std::vector<std::string>& overrides) {
  std::ifstream in(yaml_path);
  if (!in.is_open()) return absl::NotFoundError(absl::StrCat("cannot read config file ", yaml_path));
  std::stringstream buf;
  buf << in.rdbuf();
  absl::StatusOr<config::RunConfig> cfg = ParseConfigYaml(buf.str());
  if (!cfg.ok()) return Annotate(cfg.status(), yaml_path);
  for (const std::string& o : overrides) M1RL_RETURN_IF_ERROR(ApplyOverride(&*cfg, o));
  return cfg;
}

std::string DumpConfigYaml(const config::RunConfig& cfg) { return DumpMessageYaml(cfg); }

// ------------------------------------------------------------------------------------ enum names

namespace {

// "HeadPrecision" -> "HEAD_PRECISION_": '_' before an upper-case letter that follows a lower-case letter
// or a digit.
std::string EnumPrefix(const EnumDescriptor* ed) {
  std::string out;
  const std::string& name = ed->name();
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char ch = static_cast<unsigned char>(name[i]);
    if (i > 0 && std::isupper(ch) &&
        (std::islower(static_cast<unsigned char>(name[i - 1])) ||
         std::isdigit(static_cast<unsigned char>(name[i - 1])))) {
      out += '_';
    }
    out += static_cast<char>(std::toupper(ch));
  }
  return out + "_";
}

}  // namespace

bool HasYamlNames(const EnumDescriptor* ed) {
  const std::string prefix = EnumPrefix(ed);
  for (int i = 0; i < ed->value_count(); ++i) {
    const std::string& n = ed->value(i)->name();
    if (n.size() <= prefix.size() || n.compare(0, prefix.size(), prefix) != 0) return false;
  }
  return true;
}

std::string EnumValueYamlName(const EnumValueDescriptor* value) {
  const EnumDescriptor* ed = value->type();
  if (!HasYamlNames(ed)) return value->name();
  return absl::AsciiStrToLower(value->name().substr(EnumPrefix(ed).size()));
}

const EnumValueDescriptor* FindEnumValueByYamlName(const EnumDescriptor* ed, std::string_view name) {
  for (int i = 0; i < ed->value_count(); ++i) {
    if (EnumValueYamlName(ed->value(i)) == name) return ed->value(i);
  }
  return nullptr;
}

std::string EnumYamlNames(const EnumDescriptor* ed) {
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(ed->value_count()));
  for (int i = 0; i < ed->value_count(); ++i) names.push_back(EnumValueYamlName(ed->value(i)));
  return absl::StrJoin(names, ", ");
}

// ------------------------------------------------------------------------------------ FieldChecker

void FieldChecker::Positive(double v, const std::string& path) {
  if (!(v > 0) || !std::isfinite(v)) Add(path, absl::StrCat(" must be > 0, got ", v));
}

void FieldChecker::NonNegative(double v, const std::string& path) {
  if (!(v >= 0) || !std::isfinite(v)) Add(path, absl::StrCat(" must be >= 0, got ", v));
}

void FieldChecker::Finite(double v, const std::string& path) {
  if (!std::isfinite(v)) Add(path, absl::StrCat(" must be finite, got ", v));
}

void FieldChecker::InRange(double v, double lo, double hi, bool lo_exclusive, bool hi_inclusive,
                           const std::string& path) {
  const bool ok = (lo_exclusive ? v > lo : v >= lo) && (hi_inclusive ? v <= hi : v < hi);
  if (!ok) {
    Add(path, absl::StrCat(" must be in ", lo_exclusive ? "(" : "[", lo, ", ", hi, hi_inclusive ? "]" : ")",
                           ", got ", v));
  }
}

void FieldChecker::AtLeast(int64_t v, int64_t min, const std::string& path) {
  if (v < min) Add(path, absl::StrCat(" must be >= ", min, ", got ", v));
}

void FieldChecker::Add(const std::string& path, const std::string& what) { errors_.push_back(path + what); }

void FieldChecker::Merge(const absl::Status& s) {
  if (!s.ok()) errors_.emplace_back(s.message());
}

absl::Status FieldChecker::Result() const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors_, "; "));
}

}  // namespace m1rl
