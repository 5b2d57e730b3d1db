#pragma once
// Small text helpers shared by the parsers of host files.

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace cvm::probe::detail {

inline bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Drops white space (space, tab, CR, LF, VT, FF) at both ends.
inline std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// For parsers fed a file in pieces: appends `piece` to `carry` and, when
// the piece holds `end`, hands `take` the carried text up to the first
// character of the last `end` (so "\n" ends on whole lines, "\n\n" on
// whole stanzas), keeping the rest for the next piece.
template <typename Take>
void FeedPiece(std::string& carry, std::string_view piece, std::string_view end, Take&& take) {
  auto at = piece.rfind(end);
  if (at == std::string_view::npos) {
    carry += piece;
    return;
  }
  carry += piece.substr(0, at + 1);
  take(std::string_view(carry));
  carry.assign(piece.substr(at + 1));
}

// The lines of a text, without their '\n'; a final newline adds no line.
inline std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

// Fields separated by runs of white space.
inline std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    std::size_t j = i;
    while (j < line.size() && !IsSpace(line[j])) ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// Concatenates string pieces by appending: `"literal" + std::string` trips
// g++ 12's false -Wrestrict at -O3 (see ErrnoName in host_root.cpp).
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

}  // namespace cvm::probe::detail
