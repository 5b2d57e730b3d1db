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
// kernel modules and shiftfs
inline constexpr std::string_view kKernelModules = "kernel.modules.<name>";
inline constexpr std::string_view kKernelModulesDirPresent = "kernel.modules_dir_present";
inline constexpr std::string_view kShiftfsState = "shiftfs.state";
inline constexpr std::string_view kShiftfsPath = "shiftfs.path";
inline constexpr std::string_view kShiftfsOrigin = "shiftfs.origin";
inline constexpr std::string_view kShiftfsRegistered = "shiftfs.registered";
// kernel build: config and headers
inline constexpr std::string_view kKernelConfig = "kernel.config.<option>";
inline constexpr std::string_view kKernelHeadersPresent = "kernel.headers.present";
inline constexpr std::string_view kKernelHeadersPath = "kernel.headers.path";
// user namespaces, AppArmor, sysctls
inline constexpr std::string_view kUsernsUnprivilegedClone = "userns.unprivileged_clone";
inline constexpr std::string_view kUsernsUnprivilegedClonePresent =
    "userns.unprivileged_clone_present";
inline constexpr std::string_view kUsernsMax = "userns.max";
inline constexpr std::string_view kApparmorEnabled = "apparmor.enabled";
inline constexpr std::string_view kApparmorRestrictUnprivilegedUserns =
    "apparmor.restrict_unprivileged_userns";
inline constexpr std::string_view kApparmorRestrictUnprivilegedUsernsPresent =
    "apparmor.restrict_unprivileged_userns_present";
inline constexpr std::string_view kSysctlInotifyMaxQueuedEvents =
    "sysctl.fs.inotify.max_queued_events";
inline constexpr std::string_view kSysctlInotifyMaxUserWatches =
    "sysctl.fs.inotify.max_user_watches";
inline constexpr std::string_view kSysctlInotifyMaxUserInstances =
    "sysctl.fs.inotify.max_user_instances";
inline constexpr std::string_view kSysctlKeysMaxkeys = "sysctl.kernel.keys.maxkeys";
inline constexpr std::string_view kSysctlKeysMaxbytes = "sysctl.kernel.keys.maxbytes";
inline constexpr std::string_view kSysctlPidMax = "sysctl.kernel.pid_max";
inline constexpr std::string_view kSysctlMaxMapCount = "sysctl.vm.max_map_count";
// firmware
inline constexpr std::string_view kFirmwareEfi = "firmware.efi";
inline constexpr std::string_view kSecurebootEnabled = "secureboot.enabled";
// host tools
inline constexpr std::string_view kHostTools = "host.tools.<name>";

// inputs (the node object in agent mode, settings)
inline constexpr std::string_view kNodeKubeletVersion = "node.kubelet_version";
inline constexpr std::string_view kNodeContainerRuntimeVersion =
    "node.container_runtime_version";
inline constexpr std::string_view kNodeProviderId = "node.provider_id";
inline constexpr std::string_view kSettingsAgent = "settings.agent";
inline constexpr std::string_view kSettingsCoderShiftfsAutoload =
    "settings.coder_shiftfs_autoload";
// cluster (`cvm-preflight report`, from the Kubernetes API; never in a scan)
inline constexpr std::string_view kClusterKubernetesVersion = "cluster.kubernetes.version";
inline constexpr std::string_view kClusterProvider = "cluster.provider";
inline constexpr std::string_view kClusterWorkspaceNamespace = "cluster.workspace_namespace.name";
inline constexpr std::string_view kClusterWorkspaceNamespacePresent =
    "cluster.workspace_namespace.present";
inline constexpr std::string_view kClusterWorkspaceNamespacePodSecurity =
    "cluster.workspace_namespace.pod_security_enforce";
inline constexpr std::string_view kClusterIstioLegacyInjector = "cluster.istio.legacy_injector";
inline constexpr std::string_view kClusterIstioLegacyInjectors = "cluster.istio.legacy_injectors";
inline constexpr std::string_view kClusterRuntimeClassPresent = "cluster.runtimeclass.present";
inline constexpr std::string_view kClusterRuntimeClassHandler = "cluster.runtimeclass.handler";
// gpu, nvidia-driver
inline constexpr std::string_view kGpuNvidiaCount = "gpu.nvidia.count";
inline constexpr std::string_view kGpuAmdCount = "gpu.amd.count";
inline constexpr std::string_view kGpuIntelCount = "gpu.intel.count";
inline constexpr std::string_view kGpuOtherCount = "gpu.other.count";
inline constexpr std::string_view kGpuNvidiaDevices = "gpu.nvidia.devices";
inline constexpr std::string_view kGpuAmdDevices = "gpu.amd.devices";
inline constexpr std::string_view kGpuNvidiaDriverVersion =
    "gpu.nvidia.driver_version";
inline constexpr std::string_view kGpuNvidiaDriverKind = "gpu.nvidia.driver_kind";
inline constexpr std::string_view kGpuNvidiaBoundCount = "gpu.nvidia.bound_count";
inline constexpr std::string_view kGpuNvidiaDriverLoaded = "gpu.nvidia.driver_loaded";
inline constexpr std::string_view kGpuNvidiaDeviceNodes =
    "gpu.nvidia.device_nodes";
inline constexpr std::string_view kGpuNvidiaModels = "gpu.nvidia.models";
// platform
inline constexpr std::string_view kPlatformKind = "platform.kind";
inline constexpr std::string_view kPlatformHypervisor = "platform.hypervisor";
inline constexpr std::string_view kPlatformCloud = "platform.cloud";
inline constexpr std::string_view kPlatformSysVendor = "platform.sys_vendor";
inline constexpr std::string_view kPlatformProductName = "platform.product_name";
inline constexpr std::string_view kNodeCpus = "node.cpus";
inline constexpr std::string_view kNodeMemoryBytes = "node.memory_bytes";
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
// workspace images (`cvm-preflight image`; probe/workspace_image.h)
inline constexpr std::string_view kImageInitPresent = "image.init.present";
inline constexpr std::string_view kImageInitTarget = "image.init.target";
inline constexpr std::string_view kImageInitSystemd = "image.init.systemd";
inline constexpr std::string_view kImageDockerDaemon = "image.docker.daemon";
inline constexpr std::string_view kImageDockerDaemonPath = "image.docker.daemon_path";
inline constexpr std::string_view kImageDockerCli = "image.docker.cli";
inline constexpr std::string_view kImageDockerCliPath = "image.docker.cli_path";
inline constexpr std::string_view kImageDockerServiceEnabled = "image.docker.service_enabled";
inline constexpr std::string_view kImageDockerSocketEnabled = "image.docker.socket_enabled";
inline constexpr std::string_view kImageDockerMasked = "image.docker.masked";
inline constexpr std::string_view kImageDockerEnabledBy = "image.docker.enabled_by";
inline constexpr std::string_view kImageTmpCount = "image.tmp.count";
inline constexpr std::string_view kImageTmpFiles = "image.tmp.files";
inline constexpr std::string_view kImagePackagesDb = "image.packages.db";
inline constexpr std::string_view kImagePackagesInstalled = "image.packages.installed";
inline constexpr std::string_view kImagePackagesMissing = "image.packages.missing";
inline constexpr std::string_view kImagePlatform = "image.platform";

// Every declared fact, in documentation order.
std::span<const FactSpec> FactCatalog();
// The spec a concrete name belongs to (patterns matched component-wise),
// or nullptr for an undeclared name.
const FactSpec* FindFactSpec(std::string_view name);

}  // namespace cvm::probe
