#pragma once
// The stable dotted fact names, declared once. Rules, the JSON report,
// labels and metrics all use these names; docs/facts.md is generated from
// FactCatalog() (`cvm-preflight facts --markdown`) and a test keeps the two
// equal. A name with a <placeholder> component is a family built at run
// time: "kernel.modules.<name>" covers "kernel.modules.overlay".

#include <span>
#include <string_view>

#include "probe/facts.h"

namespace cvm::probe {

// In the order of FactValue's alternatives (probe/facts.h).
enum class FactType { kBool, kInt, kString, kStringList, kRecordList };
std::string_view FactTypeName(FactType type);
FactType TypeOfValue(const FactValue& value);

struct FactSpec {
  std::string_view name;
  FactType type;
  std::string_view probe;    // the probe that sets it
  std::string_view from;     // in-root files or other sources, in order
  std::string_view meaning;  // one sentence
};

// kernel
inline constexpr std::string_view kKernelRelease = "kernel.release";
inline constexpr std::string_view kKernelVersion = "kernel.version";
inline constexpr std::string_view kKernelMajor = "kernel.major";
inline constexpr std::string_view kKernelMinor = "kernel.minor";
inline constexpr std::string_view kKernelPatch = "kernel.patch";
inline constexpr std::string_view kKernelFlavor = "kernel.flavor";
inline constexpr std::string_view kKernelArch = "kernel.arch";
// os-release
inline constexpr std::string_view kOsId = "os.id";
inline constexpr std::string_view kOsVersionId = "os.version_id";
inline constexpr std::string_view kOsIdLike = "os.id_like";
inline constexpr std::string_view kOsName = "os.name";
inline constexpr std::string_view kOsPrettyName = "os.pretty_name";
inline constexpr std::string_view kOsVersion = "os.version";
inline constexpr std::string_view kOsVersionCodename = "os.version_codename";
inline constexpr std::string_view kOsVariantId = "os.variant_id";
inline constexpr std::string_view kOsBuildId = "os.build_id";
// SELinux
inline constexpr std::string_view kSelinuxMode = "selinux.mode";
inline constexpr std::string_view kSelinuxConfigMode = "selinux.config_mode";
inline constexpr std::string_view kSelinuxConfigType = "selinux.config_type";
// cgroups
inline constexpr std::string_view kCgroupVersion = "cgroup.version";
inline constexpr std::string_view kCgroupControllers = "cgroup.controllers";
// container runtimes
inline constexpr std::string_view kRuntimeBinaries = "runtime.binaries";
inline constexpr std::string_view kRuntimeContainerdVersion = "runtime.containerd.version";
inline constexpr std::string_view kRuntimeContainerdPackage = "runtime.containerd.package";
inline constexpr std::string_view kRuntimeContainerdPackageVersion = "runtime.containerd.package_version";
inline constexpr std::string_view kRuntimeContainerdPath = "runtime.containerd.path";
inline constexpr std::string_view kRuntimeContainerdSource = "runtime.containerd.source";
inline constexpr std::string_view kRuntimeRuncVersion = "runtime.runc.version";
inline constexpr std::string_view kRuntimeRuncCommit = "runtime.runc.commit";
inline constexpr std::string_view kRuntimeRuncPackage = "runtime.runc.package";
inline constexpr std::string_view kRuntimeRuncPackageVersion = "runtime.runc.package_version";
inline constexpr std::string_view kRuntimeRuncPath = "runtime.runc.path";
inline constexpr std::string_view kRuntimeRuncSource = "runtime.runc.source";
inline constexpr std::string_view kRuntimeCrioVersion = "runtime.crio.version";
inline constexpr std::string_view kRuntimeCrioPath = "runtime.crio.path";
inline constexpr std::string_view kRuntimeCrunVersion = "runtime.crun.version";
inline constexpr std::string_view kRuntimeCrunPath = "runtime.crun.path";
inline constexpr std::string_view kRuntimeDockerVersion = "runtime.docker.version";
inline constexpr std::string_view kRuntimeDockerPath = "runtime.docker.path";
inline constexpr std::string_view kRuntimeSysboxInstalled = "runtime.sysbox.installed";
inline constexpr std::string_view kRuntimeSysboxVersion = "runtime.sysbox.version";
inline constexpr std::string_view kRuntimeSysboxPath = "runtime.sysbox.path";
inline constexpr std::string_view kRuntimeNvidiaToolkitVersion = "runtime.nvidia_toolkit.version";
inline constexpr std::string_view kRuntimeNvidiaToolkitPath = "runtime.nvidia_toolkit.path";
inline constexpr std::string_view kRuntimeHandlers = "runtime.handlers";

// Every declared fact, in documentation order.
std::span<const FactSpec> FactCatalog();
// The spec a concrete name belongs to (patterns matched component-wise),
// or nullptr for an undeclared name.
const FactSpec* FindFactSpec(std::string_view name);

}  // namespace cvm::probe
