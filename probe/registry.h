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

// The probes of `cvm-preflight image`: only what means something in an
// unpacked workspace image (no kernel, /proc, /sys or mounts): os-release,
// the runtime probe (the image's docker, containerd and runc from its
// package database or Go build info) and the workspace-image probe.
std::span<const ProbeEntry> ImageProbes();

// Runs every probe; never throws, never stops early.
Facts RunProbes(const HostRoot& root, const ProbeOptions& options = {},
                const NodeInfo* node = nullptr);
// Runs the probes of `table` in order, as RunProbes runs AllProbes().
Facts RunProbeTable(std::span<const ProbeEntry> table, const HostRoot& root,
                    const ProbeOptions& options = {}, const NodeInfo* node = nullptr);

}  // namespace cvm::probe
