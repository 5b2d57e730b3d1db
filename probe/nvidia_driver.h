#pragma once
// The NVIDIA kernel driver: loaded or not, which version, proprietary or
// open modules, per-GPU models, and whether the device nodes exist.
// Reads: /proc/driver/nvidia/version, /proc/driver/nvidia/gpus/*/information,
//        Stat of /dev/nvidia0 and /dev/nvidiactl (never opened).
// Facts: gpu.nvidia.driver_version, gpu.nvidia.driver_kind,
//        gpu.nvidia.models, gpu.nvidia.device_nodes.
// No /proc/driver/nvidia/version leaves the driver facts out, silently
// (no driver loaded, or a root without procfs: rules read gpu.nvidia.count
// and say "driver not loaded"); an unparsable text is an error.
// gpu.nvidia.device_nodes is set only when the root has a /dev.

#include <string>
#include <string_view>

#include "probe/probe.h"
#include "probe/result.h"

namespace cvm::probe {

struct NvidiaVersion {
  std::string version;  // "535.129.03"; L4T on Jetson: "34.1.1"
  std::string kind;     // "proprietary" or "open"
  bool operator==(const NvidiaVersion&) const = default;
};

// The "NVRM version:" line of /proc/driver/nvidia/version, in its shapes:
//   "NVIDIA UNIX x86_64 Kernel Module  535.129.03  <date>"
//   "NVIDIA UNIX Open Kernel Module for x86_64  555.58.02  Release Build ..."
//   "NVIDIA UNIX Kernel Module for aarch64  34.1.1  Release Build ..." (TX2)
Result<NvidiaVersion> ParseNvidiaVersion(std::string_view text);

// The "Model:" value of a /proc/driver/nvidia/gpus/<bus>/information text.
Result<std::string> ParseNvidiaGpuModel(std::string_view text);

ProbeOutput ProbeNvidiaDriver(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
