#include "exporter/duration.h"

#include <string>

namespace cvm::exporter {

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&](const std::string& why) {
    // Appended rather than `"'" + std::string(text)`: g++ 12 -O3 warns with a
    // false -Wrestrict on a literal put in front of a string (see ErrnoName in
    // probe/host_root.cpp).
    std::string message = "'";
    message.append(text);
    message += "' is not a duration (";
    message += why;
    message += "; write e.g. 30s, 10m, 1h30m, 500ms)";
    return MakeError("", std::move(message));
  };
  if (text.empty()) return bad("empty");
  constexpr long long kMaxMs = 366LL * 24 * 3600 * 1000;
  long long total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    long long n = 0;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      n = n * 10 + (text[i] - '0');
      if (n > kMaxMs) return bad("too long");
      ++i;
      ++digits;
    }
    if (digits == 0) return bad("a number must come before each unit");
    long long unit = 0;
    if (text.substr(i, 2) == "ms") {
      unit = 1;
      i += 2;
    } else if (i < text.size() && text[i] == 's') {
      unit = 1000;
      ++i;
    } else if (i < text.size() && text[i] == 'm') {
      unit = 60 * 1000;
      ++i;
    } else if (i < text.size() && text[i] == 'h') {
      unit = 3600 * 1000;
      ++i;
    } else {
      return bad(i < text.size() ? "unknown unit" : "a unit (ms, s, m, h) is missing");
    }
    total += n * unit;
    if (total > kMaxMs) return bad("too long");
  }
  return std::chrono::milliseconds(total);
}

}  // namespace cvm::exporter
