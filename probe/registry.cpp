#include "probe/registry.h"

#include <chrono>

#include "probe/arch.h"
#include "probe/blockdev.h"
#include "probe/cgroup.h"
#include "probe/inputs.h"
#include "probe/firmware.h"
#include "probe/host_tools.h"
#include "probe/kernel.h"
#include "probe/kernel_build.h"
#include "probe/mountinfo.h"
#include "probe/kmod.h"
#include "probe/gpu.h"
#include "probe/kernel.h"
#include "probe/nvidia_driver.h"
#include "probe/os_release.h"
#include "probe/platform.h"
#include "probe/runtime.h"
#include "probe/selinux.h"
#include "probe/sysctl.h"
#include "probe/storage.h"
#include "probe/workspace_image.h"

namespace cvm::probe {
namespace {

constexpr ProbeEntry kProbes[] = {
    {"kernel", &ProbeKernel},
    {"architecture", &ProbeArchitecture},
    {"os-release", &ProbeOsRelease},
    {"selinux", &ProbeSelinux},
    {"cgroup", &ProbeCgroup},
    {"inputs", &ProbeInputs},
    {"kernel-modules", &ProbeKernelModules},
    {"kernel-build", &ProbeKernelBuild},
    {"sysctl", &ProbeSysctl},
    {"firmware", &ProbeFirmware},
    {"host-tools", &ProbeHostTools},
    {"platform", &ProbePlatform},
    {"gpu", &ProbeGpu},
    {"nvidia-driver", &ProbeNvidiaDriver},
    {"storage", &ProbeStorage},
    {"blockdev", &ProbeBlockDevices},
    {"runtime", &ProbeRuntime},
};

constexpr ProbeEntry kImageProbes[] = {
    {"os-release", &ProbeOsRelease},
    {"runtime", &ProbeRuntime},
    {"workspace-image", &ProbeWorkspaceImage},
};

}  // namespace

std::span<const ProbeEntry> AllProbes() { return kProbes; }
std::span<const ProbeEntry> ImageProbes() { return kImageProbes; }

Facts RunProbes(const HostRoot& root, const ProbeOptions& options,
                const NodeInfo* node) {
  return RunProbeTable(kProbes, root, options, node);
}

Facts RunProbeTable(std::span<const ProbeEntry> table, const HostRoot& root,
                    const ProbeOptions& options, const NodeInfo* node) {
  Facts facts;
  facts.root = root.path();
  MountTableOnce mounts(root);
  for (const auto& entry : table) {
    ProbeContext ctx{root, facts, options, mounts, node};
    auto start = std::chrono::steady_clock::now();
    ProbeOutput out = entry.fn(ctx);
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    for (auto& [name, fact] : out.facts) {
      facts.Set(name, std::move(fact.value), fact.source);
    }
    for (auto& e : out.errors) {
      facts.AddError({std::string(entry.name), std::move(e.path),
                      std::move(e.message)});
    }
    facts.AddRun({std::string(entry.name), out.errors.empty(), took.count()});
  }
  return facts;
}

}  // namespace cvm::probe
