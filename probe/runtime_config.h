#pragma once
// Pure parsers of container runtime configs (TOML, via toml++): the
// runtime handlers configured in containerd's config.toml (versions 1, 2
// and 3) and in CRI-O's crio.conf and its drop-ins.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "probe/result.h"

namespace cvm::probe {

struct ContainerdConfig {
  std::int64_t version = 1;  // "version = N"; absent means 1
  // Names under containerd.runtimes of the CRI plugin, in file order:
  //   v1: [plugins.cri.containerd.runtimes.<name>] (also the v2 spelling)
  //   v2: [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<name>]
  //   v3: [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.<name>]
  std::vector<std::string> handlers;
  std::vector<std::string> imports;  // "imports = [...]", as written
  bool operator==(const ContainerdConfig&) const = default;
};
// A TOML syntax error is an error naming line and column.
Result<ContainerdConfig> ParseContainerdConfig(std::string_view text);

// [crio.runtime.runtimes.<name>] tables, in file order.
Result<std::vector<std::string>> ParseCrioRuntimes(std::string_view text);

}  // namespace cvm::probe
