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
// storage: host paths (<name>: the path with "/" turned into "_",
// hostpath.var_lib_kubelet.fstype), network filesystems, block devices
inline constexpr std::string_view kHostPathExists = "hostpath.<name>.exists";
inline constexpr std::string_view kHostPathResolved = "hostpath.<name>.resolved";
inline constexpr std::string_view kHostPathFstype = "hostpath.<name>.fstype";
inline constexpr std::string_view kHostPathSource = "hostpath.<name>.source";
inline constexpr std::string_view kHostPathMountPoint = "hostpath.<name>.mount_point";
inline constexpr std::string_view kHostPathReadonly = "hostpath.<name>.readonly";
inline constexpr std::string_view kHostPathPropagation = "hostpath.<name>.propagation";
inline constexpr std::string_view kHostPathFreeBytes = "hostpath.<name>.free_bytes";
inline constexpr std::string_view kStorageNetworkFilesystems = "storage.network_filesystems";
inline constexpr std::string_view kBlockdevType = "blockdev.<name>.type";
inline constexpr std::string_view kBlockdevUuid = "blockdev.<name>.uuid";
inline constexpr std::string_view kBlockdevLabel = "blockdev.<name>.label";
inline constexpr std::string_view kBlockdevXfsFtype = "blockdev.<name>.xfs_ftype";

// Every declared fact, in documentation order.
std::span<const FactSpec> FactCatalog();
// The spec a concrete name belongs to (patterns matched component-wise),
// or nullptr for an undeclared name.
const FactSpec* FindFactSpec(std::string_view name);

}  // namespace cvm::probe
