#pragma once
// Runs `<binary> --version` for --exec-versions (ProbeOptions::exec_versions):
// no shell, an empty environment, stdin from /dev/null, stdout and stderr
// captured together up to a cap, killed (SIGKILL) after a timeout.

#include <chrono>
#include <cstddef>
#include <string>

#include "probe/result.h"

namespace cvm::probe {

inline constexpr std::chrono::milliseconds kExecTimeout{5000};
inline constexpr std::size_t kExecOutputCap = 64 * 1024;

// `host_path` is a path of the machine running the scan (not in-root).
// Errors: spawn failure, timeout (ETIMEDOUT), output over the cap (EFBIG).
// A non-zero exit status is not an error: some tools print their version
// and exit 1; the caller parses what was printed.
Result<std::string> RunVersionCommand(
    const std::string& host_path,
    std::chrono::milliseconds timeout = kExecTimeout,
    std::size_t cap = kExecOutputCap);

}  // namespace cvm::probe
