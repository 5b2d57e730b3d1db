#pragma once
// Pure parsers of what container runtimes print for `--version`, and of
// the containerd.io-to-runc table (probe/data/containerd-io-runc.tsv).
// Table-tested on real outputs (tests/data/runtime-versions/SOURCES.md).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/result.h"

namespace cvm::probe {

// `runc --version`: "runc version 1.1.1" then optional "commit: ...",
// "spec: ...", "go: ...", "libseccomp: ..." lines (2 to 5 lines in the
// wild). `version` is as printed ("1.1.5+ds1", "1.0.0-rc92").
struct RuncVersion {
  std::string version;
  std::string commit;
  std::string spec;
  std::string go;
  std::string libseccomp;
  bool operator==(const RuncVersion&) const = default;
};
Result<RuncVersion> ParseRuncVersion(std::string_view text);

// `containerd --version`:
//   "containerd containerd.io 1.5.11 3df54a85..."           (Docker's package)
//   "containerd github.com/containerd/containerd v1.7.15 926c..." (upstream)
//   "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
//   "containerd version 0.2.4 commit: ..."                  (0.2.x)
// `package` is the second word ("containerd.io", the module path), empty
// for 0.2.x; `version` drops a leading "v" before a digit.
struct ContainerdVersion {
  std::string package;
  std::string version;
  std::string revision;
  bool operator==(const ContainerdVersion&) const = default;
};
Result<ContainerdVersion> ParseContainerdVersion(std::string_view text);

// The first version number printed after the word "version" (any case,
// with or without a colon): "Docker version 24.0.7, build afdd53b",
// "crio version 1.29.1", "\tversion: \t0.6.4" (sysbox-runc),
// "NVIDIA Container Toolkit CLI version 1.14.3", "crun version 1.8.1".
Result<std::string> ParseToolVersion(std::string_view text);

// Drops a leading "v" before a digit: "v1.7.15" -> "1.7.15".
std::string StripV(std::string_view version);

// One row of the containerd.io-to-runc table.
struct ContainerdIoRunc {
  std::string containerd_io;  // upstream part of the package version
  std::string runc;
  std::string source;
  bool operator==(const ContainerdIoRunc&) const = default;
};
// Tab-separated rows "<containerd.io version>\t<runc version>\t<source>";
// '#' comments and blank lines skipped; malformed rows are warnings.
struct ContainerdIoRuncTable {
  std::vector<ContainerdIoRunc> rows;
  std::vector<std::string> warnings;
};
ContainerdIoRuncTable ParseContainerdIoRuncTable(std::string_view text);
// The compiled-in table.
const ContainerdIoRuncTable& BuiltinContainerdIoRuncTable();
// The runc a containerd.io package version ships ("1.5.11-1",
// "1.7.24-3.1.el9", "1.6.21-1"): exact match of the part before the first
// '-' (the package revision); nullopt for a version the table lacks.
std::optional<ContainerdIoRunc> RuncOfContainerdIo(
    const ContainerdIoRuncTable& table, std::string_view package_version);

}  // namespace cvm::probe
