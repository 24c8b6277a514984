#include "trainer/internal/tensor_file.h"

#include <ATen/ops/empty.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace m1rl::trainer::internal {
namespace {

struct DtypeName {
  at::ScalarType type;
  const char* name;
};
constexpr DtypeName kDtypes[] = {{at::kFloat, "F32"}, {at::kDouble, "F64"}, {at::kLong, "I64"},
                                 {at::kInt, "I32"},   {at::kByte, "U8"},    {at::kBFloat16, "BF16"}};

absl::Status FsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("cannot open ", path, " for fsync: ", std::strerror(errno)));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("fsync ", path, ": ", std::strerror(errno)));
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteTensorFile(const std::string& path, const NamedTensors& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::vector<at::Tensor> cpu;
  std::set<std::string> names;
  int64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (!names.insert(name).second)
      return absl::InvalidArgumentError(absl::StrCat(path, ": duplicate tensor ", name));
    const char* dtype = nullptr;
    for (const auto& d : kDtypes) {
      if (d.type == t.scalar_type()) dtype = d.name;
    }
    if (dtype == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": tensor ", name, " has unsupported dtype ", c10::toString(t.scalar_type())));
    }
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    const int64_t bytes = c.numel() * static_cast<int64_t>(c.element_size());
    header[name] = {{"dtype", dtype}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    cpu.push_back(c);
  }
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::InternalError(absl::StrCat("cannot create ", tmp));
    uint64_t n = h.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const at::Tensor& c : cpu) {
      out.write(static_cast<const char*>(c.data_ptr()),
                static_cast<std::streamsize>(c.numel() * c.element_size()));
    }
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat("write failed: ", tmp));
  }
  if (absl::Status s = FsyncPath(tmp); !s.ok()) return s;
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename ", tmp, " -> ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<NamedTensors> ReadTensorFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  if (data.size() < 8)
    return absl::DataLossError(absl::StrCat(path, ": truncated (", data.size(), " bytes)"));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(data[i])) << (8 * i);
  if (n > data.size() - 8)
    return absl::DataLossError(absl::StrCat(path, ": header length ", n, " exceeds the file"));
  nlohmann::json header = nlohmann::json::parse(data.substr(8, n), nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) return absl::DataLossError(absl::StrCat(path, ": header is not a JSON object"));
  const size_t base = 8 + n;
  // Sort by offset so file order is preserved.
  std::vector<std::pair<int64_t, std::string>> order;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    order.emplace_back(it.value()["data_offsets"][0].get<int64_t>(), it.key());
  }
  std::sort(order.begin(), order.end());
  NamedTensors out;
  for (const auto& [begin, name] : order) {
    const nlohmann::json& e = header[name];
    at::ScalarType type = at::kFloat;
    bool found = false;
    for (const auto& d : kDtypes) {
      if (e["dtype"] == d.name) {
        type = d.type;
        found = true;
      }
    }
    if (!found)
      return absl::DataLossError(
          absl::StrCat(path, ": tensor ", name, " has unsupported dtype ", e["dtype"].dump()));
    std::vector<int64_t> shape = e["shape"].get<std::vector<int64_t>>();
    const int64_t end = e["data_offsets"][1].get<int64_t>();
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(type));
    const int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
    if (end - begin != bytes || base + static_cast<size_t>(end) > data.size()) {
      return absl::DataLossError(
          absl::StrCat(path, ": tensor ", name, " data range is inconsistent or truncated"));
    }
    std::memcpy(t.data_ptr(), data.data() + base + begin, static_cast<size_t>(bytes));
    out.emplace_back(name, t);
  }
  return out;
}

absl::Status WriteFileAtomic(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::InternalError(absl::StrCat("cannot create ", tmp));
    out << contents;
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat("write failed: ", tmp));
  }
  if (absl::Status s = FsyncPath(tmp); !s.ok()) return s;
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename ", tmp, " -> ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace m1rl::trainer::internal
