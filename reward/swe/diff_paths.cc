#include "reward/swe/diff_paths.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace m1rl::reward::swe {
namespace {

absl::Status CheckPath(std::string_view path, std::string_view what) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": path '", std::string(path), "' ", std::string(why)));
  };
  if (path.empty()) return bad("is empty");
  if (path.front() == '"') return bad("is quoted (unusual characters are not supported)");
  if (path.front() == '/') return bad("is absolute");
  const std::vector<std::string_view> parts = SplitOn(path, '/');
  if (parts.front() == ".git") return bad("lies under .git/");
  if (std::find(parts.begin(), parts.end(), "..") != parts.end()) return bad("leaves the repository (..)");
  return absl::OkStatus();
}

// "--- a/x/y.py\t2020-01-01" -> "x/y.py"; "/dev/null" -> "".
std::string_view HeaderPath(std::string_view rest) {
  rest = rest.substr(0, rest.find('\t'));
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\r')) rest.remove_suffix(1);
  if (rest == "/dev/null") return {};
  if (rest.empty() || rest.front() == '"' || rest.front() == '/') return rest;  // CheckPath names them
  const size_t slash = rest.find('/');
  return slash == std::string_view::npos ? rest : rest.substr(slash + 1);
}

bool ParseInt(std::string_view text, int64_t* out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return !text.empty() && ec == std::errc() && ptr == end;
}

// "@@ -12,3 +12,4 @@ ..." -> {3, 4}; a missing count is 1.
bool ParseHunkHeader(std::string_view line, int64_t* old_lines, int64_t* new_lines) {
  const std::vector<std::string_view> words = SplitOn(line, ' ');
  if (words.size() < 4 || words[0] != "@@" || words[1].size() < 2 || words[2].size() < 2 ||
      words[1][0] != '-' || words[2][0] != '+')
    return false;
  const auto count = [](std::string_view range, int64_t* out) {
    const size_t comma = range.find(',');
    int64_t start = 0;
    if (!ParseInt(range.substr(1, comma == std::string_view::npos ? range.npos : comma - 1), &start))
      return false;
    if (comma == std::string_view::npos) {
      *out = 1;
      return true;
    }
    return ParseInt(range.substr(comma + 1), out) && *out >= 0;
  };
  return count(words[1], old_lines) && count(words[2], new_lines);
}

}  // namespace

absl::StatusOr<DiffInfo> InspectDiff(std::string_view diff, std::string_view what) {
  DiffInfo info;
  int64_t old_left = 0;
  int64_t new_left = 0;
  for (std::string_view line : SplitOn(diff, '\n')) {
    if (old_left > 0 || new_left > 0) {
      const char tag = line.empty() ? ' ' : line.front();  // some tools drop the blank context line's space
      if (tag == ' ' || tag == '-') --old_left;
      if (tag == ' ' || tag == '+') --new_left;
      continue;
    }
    std::string_view path;
    if (line.starts_with("@@ ")) {
      if (!ParseHunkHeader(line, &old_left, &new_left))
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(what), ": malformed hunk header '", std::string(line), "'"));
      ++info.hunks;
    } else if (line.starts_with("--- ") || line.starts_with("+++ ")) {
      path = HeaderPath(line.substr(4));
    } else if (line.starts_with("rename from ") || line.starts_with("rename to ")) {
      path = line.substr(line.find(' ', 7) + 1);
    } else if (line.starts_with("copy from ") || line.starts_with("copy to ")) {
      path = line.substr(line.find(' ', 5) + 1);
    } else if (line.starts_with("GIT binary patch") ||
               (line.starts_with("Binary files ") && line.ends_with(" differ"))) {
      info.binary = true;
    }
    if (path.empty()) continue;
    M1RL_RETURN_IF_ERROR(CheckPath(path, what));
    info.paths.emplace_back(path);
  }
  std::sort(info.paths.begin(), info.paths.end());
  info.paths.erase(std::unique(info.paths.begin(), info.paths.end()), info.paths.end());
  return info;
}

std::vector<std::string_view> SplitOn(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(sep, start);
    out.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

}  // namespace m1rl::reward::swe
