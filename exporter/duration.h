#pragma once
// Durations as Kubernetes and Go write them: "30s", "10m", "1h30m", "500ms".

#include <chrono>
#include <string_view>

#include "probe/result.h"

namespace cvm::exporter {

// One or more number+unit pairs (units ms, s, m, h), no sign, no spaces, no
// fractions; at most a year. Errors quote `text` and say what is wrong.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace cvm::exporter
