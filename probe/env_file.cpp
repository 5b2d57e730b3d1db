#include "probe/env_file.h"
#include "probe/detail/text.h"

#include <optional>

namespace cvm::probe {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; }
bool IsKeyStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool IsKeyChar(char c) { return IsKeyStart(c) || (c >= '0' && c <= '9'); }

// Parses the value after '='. Returns nullopt and sets `why` on error.
std::optional<std::string> ParseValue(std::string_view s, std::string& why) {
  std::string out;
  enum { kPlain, kDouble, kSingle } mode = kPlain;
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (mode == kSingle) {
      if (c == '\'') mode = kPlain;
      else out += c;
    } else if (mode == kDouble) {
      if (c == '"') {
        mode = kPlain;
      } else if (c == '\\' && i + 1 < s.size()) {
        char n = s[i + 1];
        if (n == '$' || n == '"' || n == '\\' || n == '`') {
          out += n;
          ++i;
        } else {
          out += c;
        }
      } else {
        out += c;
      }
    } else {
      if (c == '"') mode = kDouble;
      else if (c == '\'') mode = kSingle;
      else if (c == '\\') {
        if (i + 1 < s.size()) out += s[++i];
      } else if (IsSpace(c)) {
        break;
      } else {
        out += c;
      }
    }
  }
  if (mode == kDouble) {
    why = "unterminated double quote";
    return std::nullopt;
  }
  if (mode == kSingle) {
    why = "unterminated single quote";
    return std::nullopt;
  }
  // Only blanks or a comment may follow an unquoted space.
  for (; i < s.size(); ++i) {
    if (s[i] == '#') break;
    if (!IsSpace(s[i])) {
      why = "text after the value";
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace

const std::string* EnvFile::Get(std::string_view key) const {
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

EnvFile ParseEnvFile(std::string_view text) {
  EnvFile out;
  auto lines = detail::SplitLines(text);
  for (std::size_t line_no = 1; line_no <= lines.size(); ++line_no) {
    std::string_view line = lines[line_no - 1];
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t i = 0;
    while (i < line.size() && IsSpace(line[i])) ++i;
    if (i == line.size() || line[i] == '#') continue;
    std::string where = "line " + std::to_string(line_no) + ": ";
    if (!IsKeyStart(line[i])) {
      out.warnings.push_back(where + "expected KEY=VALUE");
      continue;
    }
    std::size_t k = i;
    while (k < line.size() && IsKeyChar(line[k])) ++k;
    if (k == line.size() || line[k] != '=') {
      out.warnings.push_back(where + "expected KEY=VALUE");
      continue;
    }
    std::string why;
    auto value = ParseValue(line.substr(k + 1), why);
    if (!value) {
      out.warnings.push_back(where + why + "; line ignored");
      continue;
    }
    out.entries.emplace_back(std::string(line.substr(i, k - i)),
                             std::move(*value));
  }
  return out;
}

}  // namespace cvm::probe
