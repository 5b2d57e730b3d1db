#pragma once
// A pure parser for shell-style KEY=VALUE files: os-release(5),
// /etc/lsb-release, /etc/selinux/config. Double and single quotes,
// backslash escapes (inside double quotes only before $ " \ `), comments,
// blank lines, CRLF, a missing final newline. Bad lines are skipped with a
// warning that names the line; parsing never fails as a whole.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cvm::probe {

struct EnvFile {
  std::vector<std::pair<std::string, std::string>> entries;  // file order
  std::vector<std::string> warnings;  // "line 3: unterminated double quote"

  // The last value assigned to `key`, or nullptr.
  const std::string* Get(std::string_view key) const;
};

EnvFile ParseEnvFile(std::string_view text);

}  // namespace cvm::probe
