#include "model/safetensors.h"

#include <ATen/ops/empty.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file.h"
#include "common/status_macros.h"

namespace m1rl::model {
namespace {

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  int64_t bytes;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},  {"BF16", at::kBFloat16, 2},
    {"I64", at::kLong, 8},   {"I32", at::kInt, 4},   {"I16", at::kShort, 2}, {"I8", at::kChar, 1},
    {"U8", at::kByte, 1},    {"BOOL", at::kBool, 1},
};

const DtypeInfo* FindDtype(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const DtypeInfo* FindDtype(at::ScalarType t) {
  for (const auto& d : kDtypes) {
    if (t == d.type) return &d;
  }
  return nullptr;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) absl::StrAppend(&s, i ? ", " : "", shape[i]);
  return s + "]";
}

}  // namespace

absl::StatusOr<NamedTensors> ReadSafetensors(const std::string& path) {
  // Mapped, not read: the tensors are the only copy of the data in memory (plus pages the kernel may drop).
  M1RL_ASSIGN_OR_RETURN(const MappedFile file, MappedFile::Open(path));
  const std::string_view data = file.data();
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors '", path, "': ", what));
  };
  if (data.size() < 8) return bad(absl::StrCat("truncated: ", data.size(), " bytes, no header length"));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(data[i]);
  if (header_len > data.size() - 8) {
    return bad(absl::StrCat("truncated: header length ", header_len, " exceeds the ", data.size() - 8,
                            " bytes after the length field"));
  }
  const nlohmann::json header =
      nlohmann::json::parse(data.begin() + 8, data.begin() + 8 + static_cast<int64_t>(header_len), nullptr,
                            /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) return bad("header is not a JSON object");
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = data.size() - data_start;
  NamedTensors out;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const std::string& name = it.key();
    const nlohmann::json& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets") ||
        !e["dtype"].is_string() || !e["shape"].is_array() || !e["data_offsets"].is_array() ||
        e["data_offsets"].size() != 2) {
      return bad(absl::StrCat("tensor '", name, "': entry needs dtype, shape and data_offsets [begin, end]"));
    }
    const std::string dtype = e["dtype"].get<std::string>();
    const DtypeInfo* info = FindDtype(dtype);
    if (info == nullptr) return bad(absl::StrCat("tensor '", name, "': unknown dtype '", dtype, "'"));
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0)) {
        return bad(absl::StrCat("tensor '", name, "': shape entries must be non-negative integers"));
      }
      shape.push_back(d.get<int64_t>());
      numel *= d.get<uint64_t>();
    }
    const auto& offs = e["data_offsets"];
    if (!offs[0].is_number_unsigned() || !offs[1].is_number_unsigned()) {
      return bad(absl::StrCat("tensor '", name, "': data_offsets must be non-negative integers"));
    }
    const uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return bad(absl::StrCat("tensor '", name, "': data_offsets [", begin, ", ", end, ") outside the ",
                              data_size, "-byte data section (truncated file?)"));
    }
    if (end - begin != numel * static_cast<uint64_t>(info->bytes)) {
      return bad(absl::StrCat("tensor '", name, "': ", end - begin, " bytes for shape ", ShapeString(shape),
                              " ", dtype, " (expected ", numel * info->bytes, ")"));
    }
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(info->type));
    if (end > begin) std::memcpy(t.data_ptr(), data.data() + data_start + begin, end - begin);
    out.emplace_back(name, t);
  }
  std::sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
    return header[a.first]["data_offsets"][0].template get<uint64_t>() <
           header[b.first]["data_offsets"][0].template get<uint64_t>();
  });
  return out;
}

absl::Status WriteSafetensors(const std::string& path, const NamedTensors& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  std::vector<at::Tensor> contiguous;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (!seen.insert(name).second)
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors '", path, "': duplicate tensor '", name, "'"));
    const DtypeInfo* info = FindDtype(t.scalar_type());
    if (info == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("safetensors '", path, "': tensor '", name,
                                                     "' has unsupported dtype ",
                                                     std::string(c10::toString(t.scalar_type()))));
    }
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * info->bytes;
    header[name] = {
        {"dtype", info->name}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(c);
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0)
    h.push_back(' ');  // data section 8-byte aligned, as the reference writer does
  return WriteFileAtomic(path, [&](std::ostream& out) {
    char len[8];
    const uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
    out.write(len, 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const at::Tensor& c : contiguous) {
      out.write(static_cast<const char*>(c.data_ptr()),
                static_cast<std::streamsize>(c.numel() * c.element_size()));
    }
  });
}

absl::StatusOr<std::map<std::string, at::Tensor>> ReadSafetensorsDir(const std::string& dir) {
  std::map<std::string, at::Tensor> out;
  const std::string index_path = dir + "/model.safetensors.index.json";
  if (std::filesystem::exists(index_path)) {
    M1RL_ASSIGN_OR_RETURN(const std::string text, ReadFile(index_path));
    const nlohmann::json index = nlohmann::json::parse(text, nullptr, false);
    if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") ||
        !index["weight_map"].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat("'", index_path, "': needs a 'weight_map' object"));
    }
    std::map<std::string, std::set<std::string>> by_file;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", index_path, "': weight_map[\"", it.key(), "\"] must be a file name"));
      }
      by_file[it.value().get<std::string>()].insert(it.key());
    }
    for (const auto& [file, names] : by_file) {
      M1RL_ASSIGN_OR_RETURN(NamedTensors shard, ReadSafetensors(absl::StrCat(dir, "/", file)));
      for (auto& [name, t] : shard) out[name] = t;
      for (const std::string& name : names) {
        if (out.find(name) == out.end()) {
          return absl::InvalidArgumentError(absl::StrCat("'", index_path, "': tensor '", name,
                                                         "' is mapped to '", file, "' but not in it"));
        }
      }
    }
    return out;
  }
  M1RL_ASSIGN_OR_RETURN(NamedTensors all, ReadSafetensors(dir + "/model.safetensors"));
  for (auto& [name, t] : all) out[name] = t;
  return out;
}

absl::Status WriteSafetensorsDir(const std::string& dir, const NamedTensors& tensors,
                                 int64_t max_shard_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create directory '", dir, "': ", ec.message()));
  const std::map<std::string, std::string> meta{{"format", "pt"}};
  std::vector<NamedTensors> shards(1);
  int64_t current = 0, total = 0;
  for (const auto& nt : tensors) {
    const int64_t bytes = nt.second.numel() * nt.second.element_size();
    if (!shards.back().empty() && current + bytes > max_shard_bytes) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(nt);
    current += bytes;
    total += bytes;
  }
  if (shards.size() == 1) {
    std::filesystem::remove(dir + "/model.safetensors.index.json", ec);
    return WriteSafetensors(dir + "/model.safetensors", tensors, meta);
  }
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", total}};
  nlohmann::ordered_json map = nlohmann::ordered_json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string file = absl::StrFormat("model-%05d-of-%05d.safetensors", i + 1, shards.size());
    M1RL_RETURN_IF_ERROR(WriteSafetensors(absl::StrCat(dir, "/", file), shards[i], meta));
    for (const auto& [name, t] : shards[i]) map[name] = file;
  }
  index["weight_map"] = map;
  return WriteFileAtomic(dir + "/model.safetensors.index.json", index.dump(2) + "\n");
}

}  // namespace m1rl::model
