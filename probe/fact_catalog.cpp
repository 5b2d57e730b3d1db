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
    {kRuntimeBinaries, T::kStringList, "runtime",
     "the usual binary directories (/usr/bin, /usr/sbin, /usr/local/bin, "
     "/usr/local/sbin, /bin, /sbin, /opt/bin, /home/kubernetes/bin, "
     "/var/lib/rancher/rke2/bin, /var/lib/rancher/k3s/data/current/bin), then "
     "/proc/<pid>/exe of running processes where /proc is a live procfs",
     "In-root paths of the runtime binaries found (containerd, runc, crun, "
     "crio, dockerd, sysbox-runc, sysbox-mgr, sysbox-fs, "
     "nvidia-container-runtime, nvidia-ctk); empty when none is there."},
    {kRuntimeContainerdVersion, T::kString, "runtime",
     "package database, else Go build info, else `containerd --version` "
     "(--exec-versions), else the node's containerRuntimeVersion",
     "containerd's version (`1.7.15`, `1.6.20~ds1`); where it came from is "
     "in runtime.containerd.source."},
    {kRuntimeContainerdPackage, T::kString, "runtime",
     "/var/lib/dpkg/info/*.list, /lib/apk/db/installed",
     "The package that owns the containerd binary (`containerd.io`, "
     "`containerd`)."},
    {kRuntimeContainerdPackageVersion, T::kString, "runtime",
     "/var/lib/dpkg/status (and status.d/), /lib/apk/db/installed",
     "That package's full version (`1.5.11-1`)."},
    {kRuntimeContainerdPath, T::kString, "runtime", "as runtime.binaries",
     "In-root path of the containerd binary."},
    {kRuntimeContainerdSource, T::kString, "runtime", "the probe",
     "Where runtime.containerd.version came from: `dpkg`, `rpm`, `apk`, "
     "`go-buildinfo`, `exec` or `node-info`."},
    {kRuntimeRuncVersion, T::kString, "runtime",
     "package database (containerd.io: probe/data/containerd-io-runc.tsv), "
     "else Go build info, else `runc --version` (--exec-versions)",
     "runc's version as the release names it (`1.0.3`, `1.1.5+ds1`)."},
    {kRuntimeRuncCommit, T::kString, "runtime",
     "Go build info (-X main.gitCommit), else `runc --version`",
     "The `commit:` runc reports (`v1.0.3-0-gf46b6ba`)."},
    {kRuntimeRuncPackage, T::kString, "runtime", "as runtime.containerd.package",
     "The package that owns the runc binary (`runc`, `containerd.io`)."},
    {kRuntimeRuncPackageVersion, T::kString, "runtime",
     "as runtime.containerd.package_version",
     "That package's full version (`1.5.11-1` for containerd.io)."},
    {kRuntimeRuncPath, T::kString, "runtime", "as runtime.binaries",
     "In-root path of the runc binary."},
    {kRuntimeRuncSource, T::kString, "runtime", "the probe",
     "Where runtime.runc.version came from (as runtime.containerd.source)."},
    {kRuntimeCrioVersion, T::kString, "runtime",
     "package database, Go build info, `crio --version`, node info",
     "CRI-O's version."},
    {kRuntimeCrioPath, T::kString, "runtime", "as runtime.binaries",
     "In-root path of the crio binary."},
    {kRuntimeCrunVersion, T::kString, "runtime",
     "package database, `crun --version`", "crun's version."},
    {kRuntimeCrunPath, T::kString, "runtime", "as runtime.binaries",
     "In-root path of the crun binary."},
    {kRuntimeDockerVersion, T::kString, "runtime",
     "package database, Go build info, `dockerd --version`",
     "The Docker engine's (dockerd's) version."},
    {kRuntimeDockerPath, T::kString, "runtime", "as runtime.binaries",
     "In-root path of the dockerd binary."},
    {kRuntimeSysboxInstalled, T::kBool, "runtime", "as runtime.binaries",
     "True when a sysbox-runc binary was found, false when none is in any "
     "directory searched."},
    {kRuntimeSysboxVersion, T::kString, "runtime",
     "package database (sysbox-ce, sysbox-ee), Go build info, "
     "`sysbox-runc --version`",
     "Sysbox's version (`0.6.4`)."},
    {kRuntimeSysboxPath, T::kString, "runtime", "as runtime.binaries",
     "In-root path of the sysbox-runc binary."},
    {kRuntimeNvidiaToolkitVersion, T::kString, "runtime",
     "package database, Go build info, `--version` of "
     "nvidia-container-runtime, else nvidia-ctk",
     "The NVIDIA Container Toolkit's version."},
    {kRuntimeNvidiaToolkitPath, T::kString, "runtime", "as runtime.binaries",
     "In-root path of nvidia-container-runtime, else nvidia-ctk."},
    {kRuntimeHandlers, T::kStringList, "runtime",
     "/etc/containerd/config.toml and its imports, the k3s/RKE2 generated "
     "config.toml, /etc/crio/crio.conf, /etc/crio/crio.conf.d/*.conf",
     "Runtime handler names configured for the CRI (`runc`, `nvidia`, "
     "`sysbox-runc`); left out when no config file exists."},
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
