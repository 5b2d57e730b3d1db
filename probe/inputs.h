#pragma once
// Facts that come from the caller, not the host: the Kubernetes node
// object's values (agent mode) and settings of the scan that rules read.
// Reads: nothing on the host; ProbeContext::node and ProbeContext::options.
// Facts: node.kubelet_version, node.container_runtime_version,
//        node.provider_id (agent mode only), settings.coder_shiftfs_autoload.
// Facts: settings.agent. No node object leaves the node.* facts out: in a
// one-shot scan silently (the rules that need them are skipped, not
// unknown); in agent mode with an error (the read failed: those rules are
// unknown).

#include "probe/probe.h"

namespace cvm::probe {

ProbeOutput ProbeInputs(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
