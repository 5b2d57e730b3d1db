#include "probe/inputs.h"

#include "probe/fact_catalog.h"

namespace cvm::probe {

ProbeOutput ProbeInputs(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    out.Set(kSettingsCoderShiftfsAutoload, ctx.options.coder_shiftfs_autoload,
            "--coder-shiftfs-autoload");
    out.Set(kSettingsAgent, ctx.options.agent, ctx.options.agent ? "agent" : "scan");
    if (ctx.node == nullptr) {
      if (ctx.options.agent) {
        out.AddError(MakeError("", "agent mode without the node object: node.* facts unknown"));
      }
      return;
    }
    if (!ctx.node->kubelet_version.empty()) {
      out.Set(kNodeKubeletVersion, ctx.node->kubelet_version,
              "node status.nodeInfo.kubeletVersion");
    }
    if (!ctx.node->container_runtime_version.empty()) {
      out.Set(kNodeContainerRuntimeVersion, ctx.node->container_runtime_version,
              "node status.nodeInfo.containerRuntimeVersion");
    }
    if (!ctx.node->provider_id.empty()) {
      out.Set(kNodeProviderId, ctx.node->provider_id, "node spec.providerID");
    }
  });
}

}  // namespace cvm::probe
