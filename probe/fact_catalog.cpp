#include "probe/fact_catalog.h"

#include <vector>

namespace cvm::probe {
namespace {

using T = FactType;

// Keep grouped by probe; docs/facts.md follows this order.
constexpr FactSpec kCatalog[] = {
    {kKernelRelease, T::kString, "kernel",
     "/proc/sys/kernel/osrelease, else field 3 of /proc/version",
     "The running kernel's release, as `uname -r` prints it."},
    {kKernelVersion, T::kString, "kernel", "kernel.release",
     "The numeric part of the release as X.Y.Z (patch 0 when absent)."},
    {kKernelMajor, T::kInt, "kernel", "kernel.release", "X of X.Y.Z."},
    {kKernelMinor, T::kInt, "kernel", "kernel.release", "Y of X.Y.Z."},
    {kKernelPatch, T::kInt, "kernel", "kernel.release",
     "Z of X.Y.Z; 0 when the release has only two numbers."},
    {kKernelFlavor, T::kString, "kernel", "kernel.release",
     "What follows X.Y.Z, without its leading separator: `91-generic`, "
     "`13-amd64`, `v8+` (a lone `+` is kept)."},
    {kKernelArch, T::kString, "architecture",
     "/proc/sys/kernel/arch, else uname(2) when the root's /proc is a live "
     "procfs, else the release suffix (.x86_64, -amd64, .aarch64, -arm64)",
     "The machine architecture as the kernel names it (`x86_64`, "
     "`aarch64`)."},
    {kOsId, T::kString, "os-release",
     "/etc/os-release, else /usr/lib/os-release; on old hosts "
     "/etc/redhat-release, /etc/system-release, /etc/lsb-release, "
     "/etc/debian_version",
     "os-release(5) `ID`: the distro, lower case (`ubuntu`, `rhel`, "
     "`amzn`)."},
    {kOsVersionId, T::kString, "os-release", "as os.id",
     "os-release(5) `VERSION_ID` (`22.04`, `8.9`, `2`)."},
    {kOsIdLike, T::kStringList, "os-release", "as os.id",
     "os-release(5) `ID_LIKE`, split on spaces."},
    {kOsName, T::kString, "os-release", "as os.id", "os-release(5) `NAME`."},
    {kOsPrettyName, T::kString, "os-release", "as os.id",
     "os-release(5) `PRETTY_NAME`."},
    {kOsVersion, T::kString, "os-release", "as os.id",
     "os-release(5) `VERSION`."},
    {kOsVersionCodename, T::kString, "os-release", "as os.id",
     "os-release(5) `VERSION_CODENAME` (`jammy`)."},
    {kOsVariantId, T::kString, "os-release", "as os.id",
     "os-release(5) `VARIANT_ID` (Bottlerocket: `aws-k8s-1.29`)."},
    {kOsBuildId, T::kString, "os-release", "as os.id",
     "os-release(5) `BUILD_ID` (COS, Bottlerocket)."},
    {kSelinuxMode, T::kString, "selinux",
     "/sys/fs/selinux/enforce (no selinuxfs under an existing /sys/fs means "
     "disabled)",
     "SELinux now: `disabled`, `permissive` or `enforcing`."},
    {kSelinuxConfigMode, T::kString, "selinux", "/etc/selinux/config",
     "`SELINUX=` in the config: the mode after the next boot."},
    {kSelinuxConfigType, T::kString, "selinux", "/etc/selinux/config",
     "`SELINUXTYPE=` in the config (`targeted`)."},
    {kCgroupVersion, T::kString, "cgroup",
     "/proc/1/mountinfo, else /proc/self/mountinfo, else the layout of "
     "/sys/fs/cgroup",
     "`v1`, `v2`, or `hybrid` (v1 controllers with a cgroup2 mount beside "
     "them)."},
    {kCgroupControllers, T::kStringList, "cgroup",
     "/sys/fs/cgroup/cgroup.controllers (v2), the v1 mounts' options",
     "The controllers available, sorted (`cpu`, `memory`, `pids`, ...)."},
    {kHostPathExists, T::kBool, "storage",
     "the path resolved inside the root (`<name>`: usr_src, lib_modules, "
     "var_run, var_lib, var_lib_kubelet, var_lib_containerd, var_lib_docker, "
     "var_lib_sysbox, tmp)",
     "Whether the host path exists; false only when it (or a parent) does "
     "not exist, absent when it could not be resolved."},
    {kHostPathResolved, T::kString, "storage", "the path resolved inside the root",
     "The canonical in-root path after symlinks (`/var/run` -> `/run`)."},
    {kHostPathFstype, T::kString, "storage",
     "/proc/1/mountinfo, else /proc/self/mountinfo",
     "Filesystem type of the mount holding the path (longest mount point, "
     "the last mounted on top winning)."},
    {kHostPathSource, T::kString, "storage", "as hostpath.<name>.fstype",
     "Mount source of that mount (`/dev/nvme1n1p1`, `10.0.0.5:/export`)."},
    {kHostPathMountPoint, T::kString, "storage", "as hostpath.<name>.fstype",
     "Mount point of that mount."},
    {kHostPathReadonly, T::kBool, "storage", "as hostpath.<name>.fstype",
     "Whether that mount (or its superblock) is read-only (`ro`)."},
    {kHostPathPropagation, T::kString, "storage", "as hostpath.<name>.fstype",
     "Propagation of that mount: `shared`, `slave`, `shared,slave`, "
     "`private` or `unbindable`."},
    {kHostPathFreeBytes, T::kInt, "storage",
     "statvfs(2) in a child process killed after a deadline; local "
     "filesystem types only, live roots only",
     "Bytes available to unprivileged users (f_bavail * f_frsize, df's "
     "Avail)."},
    {kStorageNetworkFilesystems, T::kStringList, "storage",
     "as hostpath.<name>.fstype",
     "Host paths held by a network or FUSE filesystem (NFS, CIFS, Ceph, "
     "GlusterFS, 9p, FUSE), as `<path> <fstype> <source>`; empty when none."},
    {kBlockdevType, T::kString, "blockdev",
     "libblkid on the mount source of hostpath.<name> (`<name>`: var_lib; "
     "var_lib_kubelet, var_lib_containerd when on another device)",
     "Filesystem type in the superblock (`TYPE`: `ext4`, `xfs`, `btrfs`)."},
    {kBlockdevUuid, T::kString, "blockdev", "as blockdev.<name>.type",
     "Filesystem UUID (`UUID`)."},
    {kBlockdevLabel, T::kString, "blockdev", "as blockdev.<name>.type",
     "Filesystem label (`LABEL`); absent when the filesystem has none."},
    {kBlockdevXfsFtype, T::kInt, "blockdev",
     "the XFS superblock (sb_features_incompat on v5, sb_features2 on v4)",
     "XFS only: 1 when directory entries record the file type (d_type, "
     "which overlayfs needs), else 0."},
};

bool MatchesPattern(std::string_view pattern, std::string_view name) {
  for (;;) {
    auto pd = pattern.find('.');
    auto nd = name.find('.');
    std::string_view p = pattern.substr(0, pd);
    std::string_view n = name.substr(0, nd);
    bool wildcard = p.size() > 2 && p.front() == '<' && p.back() == '>';
    if (n.empty() || (!wildcard && p != n)) return false;
    if (pd == std::string_view::npos || nd == std::string_view::npos) {
      return pd == std::string_view::npos && nd == std::string_view::npos;
    }
    pattern.remove_prefix(pd + 1);
    name.remove_prefix(nd + 1);
  }
}

}  // namespace

std::string_view FactTypeName(FactType type) {
  switch (type) {
    case FactType::kString: return "string";
    case FactType::kInt: return "integer";
    case FactType::kBool: return "boolean";
    case FactType::kStringList: return "list of strings";
    case FactType::kRecordList: return "list of records";
  }
  return "unknown";
}

FactType TypeOfValue(const FactValue& value) {
  static_assert(std::variant_size_v<FactValue> == 5);
  return static_cast<FactType>(value.index());
}

std::span<const FactSpec> FactCatalog() { return kCatalog; }

const FactSpec* FindFactSpec(std::string_view name) {
  for (const auto& spec : kCatalog) {
    if (spec.name == name) return &spec;
  }
  for (const auto& spec : kCatalog) {
    if (spec.name.find('<') != std::string_view::npos &&
        MatchesPattern(spec.name, name)) {
      return &spec;
    }
  }
  return nullptr;
}

}  // namespace cvm::probe
