// Whole-file I/O shared by the checkpoint and model-file code: read a file, write one atomically, map one
// read-only. No LibTorch (S2).
//
// Errors name the path: kNotFound when a file to read cannot be opened, kInternal for any other I/O failure.
#ifndef M1RL_COMMON_FILE_H_
#define M1RL_COMMON_FILE_H_

#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace m1rl {

// The contents of `path`.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `path` atomically: `write` fills a stream on `path`.tmp, which is then flushed, fsynced and renamed
// over `path`, so a crash leaves the old file or the new one, never a torn one. A stream error after
// `write` returns fails the call and leaves `path` untouched.
absl::Status WriteFileAtomic(const std::string& path, const std::function<void(std::ostream&)>& write);
absl::Status WriteFileAtomic(const std::string& path, std::string_view contents);

// A read-only, private memory mapping of a whole file, unmapped on destruction. Pages are read on first
// touch, so the file is never held twice in memory (read + copy). Move-only.
//
// Thread safety: const methods are safe to call concurrently.
class MappedFile {
 public:
  // Maps `path` (an empty file maps to an empty view).
  static absl::StatusOr<MappedFile> Open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::string_view data() const { return {static_cast<const char*>(addr_), size_}; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, void* addr, size_t size) : path_(std::move(path)), addr_(addr), size_(size) {}
  void Unmap();

  std::string path_;
  void* addr_ = nullptr;  // nullptr for an empty file
  size_t size_ = 0;
};

}  // namespace m1rl

#endif  // M1RL_COMMON_FILE_H_
