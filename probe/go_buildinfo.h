#pragma once
// The Go build information embedded in an ELF executable (the
// .go.buildinfo section, as `go version -m` prints it), read with a small
// bounded ELF reader: the ELF header, the section headers, the section
// name table and the one section, nothing else. Both layouts: Go 1.18+
// (flags bit 2: inline varint-prefixed strings) and older (pointers to Go
// string headers, translated through the section table).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "probe/result.h"

namespace cvm::probe {

struct GoBuildInfo {
  std::string go_version;    // "go1.19.8"
  std::string path;          // "github.com/opencontainers/runc"
  std::string main_module;   // "mod" line: module path
  std::string main_version;  // "(devel)", "v1.7.15"
  std::vector<std::pair<std::string, std::string>> settings;  // "build" lines
  bool operator==(const GoBuildInfo&) const = default;
};

// Reads `length` bytes at `offset`; fewer at the end of the file.
using RangeReader =
    std::function<Result<std::string>(std::uint64_t offset, std::size_t length)>;

// Errors: not ELF, no .go.buildinfo section (not a Go binary, or one
// without build info), a malformed or oversized structure.
Result<GoBuildInfo> ReadGoBuildInfo(const RangeReader& read);

// The module info text ("path\t...\nmod\t...\nbuild\tk=v\n"), with or
// without its 16-byte sentinels.
GoBuildInfo ParseGoModInfo(std::string_view text);

// The value of `-X <name>=<value>` in the -ldflags build setting, or "".
std::string LdflagsVariable(const GoBuildInfo& info, std::string_view name);

// The program's version as its build stamped it: the first -X variable
// named main.version / main.Version or ending in "/version.Version", else
// the main module version unless it is "(devel)".
std::string GoStampedVersion(const GoBuildInfo& info);

}  // namespace cvm::probe
