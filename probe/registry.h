#pragma once
// The explicit table of probes (STYLE.md section 3) and the scan that runs
// them in order over one HostRoot.

#include <span>
#include <string_view>

#include "probe/facts.h"
#include "probe/probe.h"

namespace cvm::probe {

struct ProbeEntry {
  std::string_view name;  // kebab-case, as in the JSON report
  ProbeFn fn;
};

// In run order: a probe may read the facts of those before it.
std::span<const ProbeEntry> AllProbes();

// Runs every probe; never throws, never stops early.
Facts RunProbes(const HostRoot& root, const ProbeOptions& options = {},
                const NodeInfo* node = nullptr);

}  // namespace cvm::probe
