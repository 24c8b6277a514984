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
        const EnumValueDescriptor* ev = ed->FindValueByName(text);
        int64_t number;
        if (ev == nullptr) {
          auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
          if (ec == std::errc() && p == text.data() + text.size() &&
              number >= std::numeric_limits<int>::min() && number <= std::numeric_limits<int>::max()) {
            ev = ed->FindValueByNumber(static_cast<int>(number));
          }
        }
        if (ev == nullptr) {
          std::vector<std::string> names;
          for (int i = 0; i < ed->value_count(); ++i) names.push_back(ed->value(i)->name());
          return Error(node, path, absl::StrCat("expected one of ", absl::StrJoin(names, ", "), got));
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
      e << (rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name();
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
    if (f->is_repeated() || f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->real_containing_oneof() != nullptr) continue;
    if (std::find(on_path->begin(), on_path->end(), f->message_type()) != on_path->end()) continue;
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

// ----------------------------------------------------------------------------------------- validation

class Checker {
 public:
  void Positive(double v, const std::string& path) {
    if (!(v > 0) || !std::isfinite(v)) Add(path, absl::StrCat(" must be > 0, got ", v));
  }
  void NonNegative(double v, const std::string& path) {
    if (!(v >= 0) || !std::isfinite(v)) Add(path, absl::StrCat(" must be >= 0, got ", v));
  }
  void Finite(double v, const std::string& path) {
    if (!std::isfinite(v)) Add(path, absl::StrCat(" must be finite, got ", v));
  }
  // lo <= v < hi, or lo <= v <= hi with hi_inclusive; "(" bounds with lo_exclusive.
  void InRange(double v, double lo, double hi, bool lo_exclusive, bool hi_inclusive,
               const std::string& path) {
    const bool ok = (lo_exclusive ? v > lo : v >= lo) && (hi_inclusive ? v <= hi : v < hi);
    if (!ok) {
      Add(path, absl::StrCat(" must be in ", lo_exclusive ? "(" : "[", lo, ", ", hi, hi_inclusive ? "]" : ")",
                             ", got ", v));
    }
  }
  void AtLeast(int64_t v, int64_t min, const std::string& path) {
    if (v < min) Add(path, absl::StrCat(" must be >= ", min, ", got ", v));
  }
  void OneOf(const std::string& v, std::initializer_list<const char*> allowed, const std::string& path) {
    for (const char* a : allowed) {
      if (v == a) return;
    }
    std::vector<std::string> quoted;
    for (const char* a : allowed) quoted.push_back(absl::StrCat("\"", a, "\""));
    Add(path, absl::StrCat(" must be one of ", absl::StrJoin(quoted, ", "), ", got \"", v, "\""));
  }
  void Add(const std::string& path, const std::string& what) { errors_.push_back(path + what); }
  absl::Status Result() const {
    if (errors_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(errors_, "; "));
  }

 private:
  std::vector<std::string> errors_;
};

void ValidateModel(const config::ModelConfig& m, Checker& c) {
  c.OneOf(m.preset(),
          {"", "tiny8", "tiny2", "minimax-m1", "tiny8-hfparity", "tiny2-hfparity", "minimax-m1-hfparity"},
          "model.preset");
  const bool from_fields = m.preset().empty() && m.init_from().empty();
  const int64_t min_dim = from_fields ? 1 : 0;  // 0 = "from the preset / checkpoint"
  c.AtLeast(m.vocab_size(), min_dim, "model.vocab_size");
  c.AtLeast(m.hidden_size(), min_dim, "model.hidden_size");
  c.AtLeast(m.intermediate_size(), min_dim, "model.intermediate_size");
  c.AtLeast(m.num_hidden_layers(), min_dim, "model.num_hidden_layers");
  c.AtLeast(m.num_attention_heads(), min_dim, "model.num_attention_heads");
  c.AtLeast(m.head_dim(), min_dim, "model.head_dim");
  c.AtLeast(m.num_key_value_heads(), min_dim, "model.num_key_value_heads");
  c.AtLeast(m.num_local_experts(), min_dim, "model.num_local_experts");
  c.AtLeast(m.num_experts_per_tok(), min_dim, "model.num_experts_per_tok");
  c.AtLeast(m.rotary_dim(), 0, "model.rotary_dim");
  c.AtLeast(m.block_size(), 0, "model.block_size");
  c.AtLeast(m.max_position_embeddings(), 0, "model.max_position_embeddings");
  c.AtLeast(m.head_chunk_size(), 0, "model.head_chunk_size");
  c.NonNegative(m.rope_theta(), "model.rope_theta");
  c.NonNegative(m.rms_norm_eps(), "model.rms_norm_eps");
  c.NonNegative(m.lightning_norm_eps(), "model.lightning_norm_eps");
  c.NonNegative(m.router_aux_loss_coef(), "model.router_aux_loss_coef");
  c.NonNegative(m.init_std(), "model.init_std");
  if (m.num_experts_per_tok() > 0 && m.num_local_experts() > 0 &&
      m.num_experts_per_tok() > m.num_local_experts()) {
    c.Add("model.num_experts_per_tok",
          absl::StrCat(" must be <= model.num_local_experts (", m.num_local_experts(), "), got ",
                       m.num_experts_per_tok()));
  }
  if (m.num_key_value_heads() > 0 && m.num_attention_heads() > 0 &&
      m.num_attention_heads() % m.num_key_value_heads() != 0) {
    c.Add("model.num_key_value_heads",
          absl::StrCat(" must divide model.num_attention_heads (", m.num_attention_heads(), "), got ",
                       m.num_key_value_heads()));
  }
  if (m.rotary_dim() > 0 && m.head_dim() > 0 && (m.rotary_dim() > m.head_dim() || m.rotary_dim() % 2 != 0)) {
    c.Add("model.rotary_dim",
          absl::StrCat(" must be even and <= model.head_dim (", m.head_dim(), "), got ", m.rotary_dim()));
  }
  for (int i = 0; i < m.layer_types_size(); ++i) {
    c.OneOf(m.layer_types(i), {"linear_attention", "full_attention"},
            absl::StrCat("model.layer_types[", i, "]"));
  }
  if (m.layer_types_size() > 0 && m.num_hidden_layers() > 0 &&
      m.layer_types_size() != m.num_hidden_layers()) {
    c.Add("model.layer_types", absl::StrCat(" must have model.num_hidden_layers (", m.num_hidden_layers(),
                                            ") entries, got ", m.layer_types_size()));
  }
  c.OneOf(m.dtype(), {"", "float32", "bfloat16", "float64"}, "model.dtype");
  c.OneOf(m.lm_head_precision(),
          {"", "ieee_fp32", "fp32_ieee", "tf32", "bf16_fp32_out", "bf16_fp32out", "bf16"},
          "model.lm_head_precision");
  const std::string& dev = m.device();
  const bool cuda_n = dev.size() > 5 && dev.rfind("cuda:", 0) == 0 &&
                      std::all_of(dev.begin() + 5, dev.end(),
                                  [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
  if (!cuda_n) c.OneOf(dev, {"", "cpu", "cuda", "auto"}, "model.device");
}

void ValidateRollout(const config::RolloutConfig& r, bool rl, Checker& c) {
  if (rl) {
    c.AtLeast(r.n_samples(), 1, "rollout.n_samples");
    c.AtLeast(r.max_new_tokens(), 1, "rollout.max_new_tokens");
    if (!r.greedy()) c.Positive(r.temperature(), "rollout.temperature");
    c.InRange(r.top_p(), 0, 1, /*lo_exclusive=*/true, /*hi_inclusive=*/true, "rollout.top_p");
  } else {
    c.AtLeast(r.n_samples(), 0, "rollout.n_samples");
    c.AtLeast(r.max_new_tokens(), 0, "rollout.max_new_tokens");
    c.NonNegative(r.temperature(), "rollout.temperature");
    c.InRange(r.top_p(), 0, 1, false, true, "rollout.top_p");
  }
  c.AtLeast(r.top_k(), 0, "rollout.top_k");
  c.AtLeast(r.max_batch_size(), 0, "rollout.max_batch_size");
  c.AtLeast(r.memory_budget_bytes(), 0, "rollout.memory_budget_bytes");
  c.AtLeast(r.prefill_chunk(), 0, "rollout.prefill_chunk");
  for (int i = 0; i < r.stop_strings_size(); ++i) {
    if (r.stop_strings(i).empty()) c.Add(absl::StrCat("rollout.stop_strings[", i, "]"), " must not be empty");
  }
}

void ValidateReward(const config::RewardConfig& r, Checker& c) {
  c.OneOf(r.mode(), {"", "grpc", "in_process"}, "reward.mode");
  if (r.mode() == "grpc" && r.address().empty())
    c.Add("reward.address", " must be set when reward.mode is \"grpc\"");
  c.AtLeast(r.deadline_ms(), 0, "reward.deadline_ms");
  c.AtLeast(r.max_in_flight(), 0, "reward.max_in_flight");
  c.AtLeast(r.max_retries(), 0, "reward.max_retries");
  c.AtLeast(r.retry_backoff_ms(), 0, "reward.retry_backoff_ms");
  c.AtLeast(r.give_up_after_ms(), 0, "reward.give_up_after_ms");
  c.Finite(r.correctness_weight(), "reward.correctness_weight");
  c.Finite(r.format_weight(), "reward.format_weight");
  c.AtLeast(r.in_process_workers(), 0, "reward.in_process_workers");
  c.AtLeast(r.queue_capacity(), 0, "reward.queue_capacity");
}

// Every algorithm.* scalar is `optional`: unset means "the preset's value" (algorithms/algorithm_config.h
// resolves and re-validates the merged result), so only the fields the user wrote are checked here.
void ValidateAlgorithm(const config::AlgorithmConfig& a, bool rl, Checker& c) {
  if (a.has_preset()) {
    c.OneOf(a.preset(), {"cispo", "grpo", "dapo", "reinforce"}, "algorithm.preset");
  } else if (rl) {
    c.Add("algorithm.preset",
          " must be set when trainer.mode is \"rl\" (one of cispo, grpo, dapo, reinforce)");
  }
  const auto& is = a.is_weight();
  if (is.has_eps_high()) c.Positive(is.eps_high(), "algorithm.is_weight.eps_high");
  if (is.has_eps_low()) c.Positive(is.eps_low(), "algorithm.is_weight.eps_low");
  if (is.has_max_ratio()) c.Positive(is.max_ratio(), "algorithm.is_weight.max_ratio");
  if (is.has_eps_high() && is.has_max_ratio()) {
    c.Add("algorithm.is_weight.max_ratio", " must not be set together with algorithm.is_weight.eps_high");
  }
  const auto& tr = a.trust_region();
  if (tr.has_eps_low()) c.InRange(tr.eps_low(), 0, 1, false, true, "algorithm.trust_region.eps_low");
  if (tr.has_eps_high()) c.NonNegative(tr.eps_high(), "algorithm.trust_region.eps_high");
  if (a.has_loss_agg()) {
    c.OneOf(a.loss_agg(),
            {"token_mean", "seq_mean_token_mean", "group_token_mean", "seq_mean_token_sum_norm"},
            "algorithm.loss_agg");
  }
  if (a.kl().has_estimator())
    c.OneOf(a.kl().estimator(), {"none", "k1", "k2", "k3"}, "algorithm.kl.estimator");
  if (a.kl().has_beta()) c.NonNegative(a.kl().beta(), "algorithm.kl.beta");
  const auto& adv = a.advantage();
  if (adv.has_estimator()) c.OneOf(adv.estimator(), {"grpo", "rloo"}, "algorithm.advantage.estimator");
  if (adv.has_std_kind()) c.OneOf(adv.std_kind(), {"sample", "population"}, "algorithm.advantage.std_kind");
  if (adv.has_std_eps()) c.NonNegative(adv.std_eps(), "algorithm.advantage.std_eps");
  const auto& ds = a.dynamic_sampling();
  if (ds.has_max_gen_rounds()) c.AtLeast(ds.max_gen_rounds(), 1, "algorithm.dynamic_sampling.max_gen_rounds");
  if (ds.has_on_exhausted()) {
    c.OneOf(ds.on_exhausted(), {"error", "train_partial"}, "algorithm.dynamic_sampling.on_exhausted");
  }
  const auto& ol = a.overlong();
  if (ol.has_max_len()) c.AtLeast(ol.max_len(), 1, "algorithm.overlong.max_len");
  if (ol.has_cache_len()) c.AtLeast(ol.cache_len(), 1, "algorithm.overlong.cache_len");
  if (ol.has_max_len() && ol.has_cache_len() && ol.cache_len() > ol.max_len()) {
    c.Add("algorithm.overlong.cache_len",
          absl::StrCat(" must be <= algorithm.overlong.max_len (", ol.max_len(), "), got ", ol.cache_len()));
  }
  const auto& rep = a.repetition();
  if (rep.has_threshold()) c.InRange(rep.threshold(), 0, 1, true, false, "algorithm.repetition.threshold");
  if (rep.has_run_length()) c.AtLeast(rep.run_length(), 1, "algorithm.repetition.run_length");
  if (rep.has_policy()) {
    c.OneOf(rep.policy(), {"score", "fail", "fail_mask_run", "mask_all", "drop"},
            "algorithm.repetition.policy");
  }
  if (rep.has_failure_reward()) c.Finite(rep.failure_reward(), "algorithm.repetition.failure_reward");
  if (a.has_ratio_denominator()) {
    c.OneOf(a.ratio_denominator(), {"recompute", "rollout"}, "algorithm.ratio_denominator");
  }
  if (a.has_log_ratio_clamp()) c.Positive(a.log_ratio_clamp(), "algorithm.log_ratio_clamp");
  if (a.has_generation_budget()) c.AtLeast(a.generation_budget(), 1, "algorithm.generation_budget");
}

void ValidateTrainer(const config::TrainerConfig& t, Checker& c) {
  c.OneOf(t.mode(), {"rl", "sft"}, "trainer.mode");
  const bool rl = t.mode() == "rl";
  c.AtLeast(t.steps(), 0, "trainer.steps");
  c.AtLeast(t.prompts_per_step(), rl ? 1 : 0, "trainer.prompts_per_step");
  c.AtLeast(t.minibatches_per_step(), rl ? 1 : 0, "trainer.minibatches_per_step");
  c.AtLeast(t.micro_batch_tokens(), 0, "trainer.micro_batch_tokens");
  c.AtLeast(t.eval_every(), 0, "trainer.eval_every");
  c.AtLeast(t.eval_prompts(), 0, "trainer.eval_prompts");
  c.AtLeast(t.log_every(), 0, "trainer.log_every");
  c.AtLeast(t.sft_batch_size(), t.mode() == "sft" ? 1 : 0, "trainer.sft_batch_size");
  const auto& o = t.optim();
  c.Positive(o.lr(), "trainer.optim.lr");
  if (o.betas_size() != 2) {
    c.Add("trainer.optim.betas", absl::StrCat(" must have exactly 2 entries, got ", o.betas_size()));
  }
  for (int i = 0; i < o.betas_size(); ++i) {
    c.InRange(o.betas(i), 0, 1, false, false, absl::StrCat("trainer.optim.betas[", i, "]"));
  }
  c.Positive(o.eps(), "trainer.optim.eps");
  c.NonNegative(o.weight_decay(), "trainer.optim.weight_decay");
  c.NonNegative(o.grad_clip(), "trainer.optim.grad_clip");
  c.AtLeast(o.warmup_steps(), 0, "trainer.optim.warmup_steps");
  c.OneOf(o.schedule(), {"", "constant", "cosine", "linear", "wsd"}, "trainer.optim.schedule");
  c.InRange(o.min_lr_ratio(), 0, 1, false, true, "trainer.optim.min_lr_ratio");
  c.InRange(o.decay_fraction(), 0, 1, false, true, "trainer.optim.decay_fraction");
  c.OneOf(t.prompt_template(), {"", "chat", "raw"}, "trainer.prompt_template");
  c.InRange(t.max_unscored_fraction(), 0, 1, false, true, "trainer.max_unscored_fraction");
  c.OneOf(t.backend(), {"", "gloo", "nccl"}, "trainer.backend");
  c.AtLeast(t.dist_timeout_s(), 0, "trainer.dist_timeout_s");
  c.AtLeast(t.eval_max_new_tokens(), 0, "trainer.eval_max_new_tokens");
  c.AtLeast(t.checkpoint().every_steps(), 0, "trainer.checkpoint.every_steps");
  c.AtLeast(t.checkpoint().keep_last(), 0, "trainer.checkpoint.keep_last");
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
  M1RL_RETURN_IF_ERROR(Annotate(
      ValidateRunConfig(*cfg), absl::StrCat(yaml_path, overrides.empty() ? "" : " (after --set overrides)")));
  return cfg;
}

std::string DumpConfigYaml(const config::RunConfig& cfg) { return DumpMessageYaml(cfg); }

absl::Status ValidateRunConfig(const config::RunConfig& cfg) {
  Checker c;
  const bool rl = cfg.trainer().mode() == "rl";
  ValidateModel(cfg.model(), c);
  ValidateRollout(cfg.rollout(), rl, c);
  ValidateReward(cfg.reward(), c);
  ValidateAlgorithm(cfg.algorithm(), rl, c);
  ValidateTrainer(cfg.trainer(), c);
  return c.Result();
}

}  // namespace m1rl
