#pragma once
// Facts that come from the caller, not the host: the Kubernetes node
// object's values (agent mode) and settings of the scan that rules read.
// Reads: nothing on the host; ProbeContext::node and ProbeContext::options.
// Facts: node.kubelet_version, node.container_runtime_version,
//        node.provider_id (agent mode only), settings.coder_shiftfs_autoload.
// No node object (a one-shot scan) leaves the node.* facts out, silently:
// the rules that need them are skipped, not unknown.

#include "probe/probe.h"

namespace cvm::probe {

ProbeOutput ProbeInputs(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
