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
     "`SELINUX=` in the config: the mode after the next boot; `none` when "
     "there is no config file."},
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
    {kNodeKubeletVersion, T::kString, "inputs",
     "the Kubernetes node object, status.nodeInfo.kubeletVersion (agent mode)",
     "The kubelet version (`v1.29.3`); absent in a one-shot scan."},
    {kNodeContainerRuntimeVersion, T::kString, "inputs",
     "the node object, status.nodeInfo.containerRuntimeVersion (agent mode)",
     "The runtime the kubelet reports (`containerd://1.7.15`)."},
    {kNodeProviderId, T::kString, "inputs", "the node object, spec.providerID (agent mode)",
     "The cloud provider's id of the node (`aws:///us-east-1a/i-0abc`)."},
    {kSettingsAgent, T::kBool, "inputs", "the agent (true) or a one-shot `scan` (false)",
     "The scan runs as the agent, which expects the node object; rules that need "
     "`node.*` facts are skipped in a one-shot scan and unknown in an agent "
     "that could not read its node."},
    {kSettingsCoderShiftfsAutoload, T::kBool, "inputs",
     "`scan --coder-shiftfs-autoload` / the agent's setting",
     "Coder's \"Auto loading of the shiftfs kernel module\" is on (default off)."},
    {kClusterKubernetesVersion, T::kString, "cluster",
     "the API server's /version, gitVersion (`cvm-preflight report`)",
     "The control plane's Kubernetes version (`v1.30.2`)."},
    {kClusterProvider, T::kString, "cluster",
     "the nodes' spec.providerID scheme (azure, aws, gce)",
     "`aks`, `eks`, `gke`, or `other` when no node names one of those "
     "clouds; left out when no node could be listed."},
    {kClusterWorkspaceNamespace, T::kString, "cluster",
     "`report --workspace-namespace`",
     "The namespace workspace pods run in; absent when not given, which "
     "skips the namespace checks."},
    {kClusterWorkspaceNamespacePresent, T::kBool, "cluster",
     "GET /api/v1/namespaces/<name>", "The workspace namespace exists."},
    {kClusterWorkspaceNamespacePodSecurity, T::kString, "cluster",
     "the namespace's label pod-security.kubernetes.io/enforce",
     "The Pod Security level enforced there (`privileged`, `baseline`, "
     "`restricted`); empty when the namespace has no such label (the "
     "cluster's default applies)."},
    {kClusterIstioLegacyInjector, T::kBool, "cluster",
     "GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
     "A webhook sends pods to Istio's standalone sidecar injector (service "
     "`istio-sidecar-injector`, Istio 1.4 and earlier) and, with a "
     "workspace namespace, its namespaceSelector matches that namespace."},
    {kClusterIstioLegacyInjectors, T::kStringList, "cluster",
     "as cluster.istio.legacy_injector",
     "Those webhooks, as `configuration/webhook`."},
    {kClusterRuntimeClassPresent, T::kBool, "cluster",
     "GET /apis/node.k8s.io/v1/runtimeclasses/sysbox-runc",
     "The RuntimeClass `sysbox-runc` (Sysbox's installer makes it) exists."},
    {kClusterRuntimeClassHandler, T::kString, "cluster",
     "the RuntimeClass sysbox-runc, handler", "Its handler (`sysbox-runc`)."},
    {kKernelModules, T::kString, "kernel-modules",
     "/lib/modules/<kernel.release>/modules.builtin, its modules.dep.bin "
     "(libkmod, by name and fs- alias), /proc/modules",
     "`builtin`, `loaded`, `available` (the index resolves a module file) or "
     "`absent`, for overlay, fuse, configfs, br_netfilter, nf_tables, "
     "ip_tables, binfmt_misc, shiftfs; left out when the index or "
     "/proc/modules needed to decide is missing."},
    {kKernelModulesDirPresent, T::kBool, "kernel-modules",
     "/lib/modules/<kernel.release>",
     "The running kernel's module directory exists (Sysbox bind-mounts it "
     "into containers); left out when it cannot be checked."},
    {kShiftfsState, T::kString, "kernel-modules",
     "as kernel.modules.<name>, plus /opt/lib/modules-load.d/shiftfs.ko "
     "(Flatcar)",
     "kernel.modules.shiftfs, where an out-of-index Flatcar file that is not "
     "loaded counts as `available`."},
    {kShiftfsPath, T::kString, "kernel-modules",
     "/lib/modules/<kernel.release>/modules.dep.bin, "
     "/opt/lib/modules-load.d/shiftfs.ko",
     "The in-root path of the shiftfs module file "
     "(`/lib/modules/5.15.0-48-generic/kernel/fs/shiftfs.ko`)."},
    {kShiftfsOrigin, T::kString, "kernel-modules", "shiftfs.path",
     "`in-tree` (under kernel/), `dkms` (under updates/ or extra/), `insmod` "
     "(Flatcar's out-of-index file), `other`."},
    {kShiftfsRegistered, T::kBool, "kernel-modules", "/proc/filesystems",
     "The running kernel has the shiftfs file system registered (what "
     "sysbox-runc 0.4 looked for). A module listed Live in /proc/modules has "
     "run its init, which registers the file system, so no rule compares "
     "the two."},
    {kKernelConfig, T::kString, "kernel-build",
     "/proc/config.gz, /boot/config-<rel>, /usr/src/linux-<rel>/.config, "
     "/usr/src/linux/.config, /usr/lib/modules/<rel>/config, "
     "/usr/lib/ostree-boot/config-<rel>, /usr/lib/kernel/config-<rel>, "
     "/usr/src/linux-headers-<rel>/.config, /lib/modules/<rel>/build/.config "
     "(the first that exists)",
     "A build option without `CONFIG_`: `y`, `m`, a value, or `n` when the "
     "config says \"is not set\" or omits it."},
    {kKernelHeadersPresent, T::kBool, "kernel-build",
     "/usr/src/linux-headers-<rel>, /usr/src/kernels/<rel>, "
     "/lib/modules/<rel>/build",
     "One of those resolves to a directory in the root."},
    {kKernelHeadersPath, T::kString, "kernel-build", "as kernel.headers.present",
     "The first of those that resolves to a directory."},
    {kUsernsUnprivilegedClone, T::kInt, "sysctl",
     "/proc/sys/kernel/unprivileged_userns_clone",
     "The switch for unprivileged user namespaces that the Debian/Ubuntu "
     "patch adds (Photon OS has it too); left out without error on a live procfs that lacks it (a kernel without the "
     "patch does not gate them)."},
    {kUsernsUnprivilegedClonePresent, T::kBool, "sysctl",
     "/proc/sys/kernel/unprivileged_userns_clone",
     "The kernel has the Debian/Ubuntu `unprivileged_userns_clone` knob; "
     "false only when a live kernel lacks it, left out when unknown (a "
     "folder root without the file)."},
    {kUsernsMax, T::kInt, "sysctl", "/proc/sys/user/max_user_namespaces",
     "user.max_user_namespaces; 0 forbids user namespaces."},
    {kApparmorEnabled, T::kBool, "sysctl",
     "/sys/module/apparmor/parameters/enabled (no /sys/module/apparmor under "
     "an existing /sys/module means false)",
     "AppArmor is enabled in the running kernel."},
    {kApparmorRestrictUnprivilegedUserns, T::kInt, "sysctl",
     "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
     "Ubuntu 23.10+'s restriction of unprivileged user namespaces; left out "
     "without error on a live procfs that lacks it."},
    {kApparmorRestrictUnprivilegedUsernsPresent, T::kBool, "sysctl",
     "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
     "The kernel has Ubuntu's `apparmor_restrict_unprivileged_userns` knob; "
     "false only when a live kernel lacks it, left out when unknown."},
    {kSysctlInotifyMaxQueuedEvents, T::kInt, "sysctl",
     "/proc/sys/fs/inotify/max_queued_events", "fs.inotify.max_queued_events."},
    {kSysctlInotifyMaxUserWatches, T::kInt, "sysctl",
     "/proc/sys/fs/inotify/max_user_watches", "fs.inotify.max_user_watches."},
    {kSysctlInotifyMaxUserInstances, T::kInt, "sysctl",
     "/proc/sys/fs/inotify/max_user_instances",
     "fs.inotify.max_user_instances."},
    {kSysctlKeysMaxkeys, T::kInt, "sysctl", "/proc/sys/kernel/keys/maxkeys",
     "kernel.keys.maxkeys."},
    {kSysctlKeysMaxbytes, T::kInt, "sysctl", "/proc/sys/kernel/keys/maxbytes",
     "kernel.keys.maxbytes."},
    {kSysctlPidMax, T::kInt, "sysctl", "/proc/sys/kernel/pid_max",
     "kernel.pid_max."},
    {kSysctlMaxMapCount, T::kInt, "sysctl", "/proc/sys/vm/max_map_count",
     "vm.max_map_count."},
    {kFirmwareEfi, T::kBool, "firmware",
     "/sys/firmware/efi (decided only when /sys/firmware exists)",
     "The host booted through EFI."},
    {kSecurebootEnabled, T::kBool, "firmware",
     "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-"
     "00e098032b8c (fifth byte); false when not EFI",
     "UEFI Secure Boot is on."},
    {kHostTools, T::kBool, "host-tools",
     "/usr/sbin, /usr/bin, /sbin, /bin, /usr/local/sbin, /usr/local/bin",
     "An executable of that name is in the root's binary directories "
     "(rsync, modprobe, iptables, fusermount, fusermount3)."},
    {kGpuNvidiaCount, T::kInt, "gpu",
     "udev (subsystem pci) on the live host, else /sys/bus/pci/devices/*",
     "NVIDIA (vendor 0x10de) display controllers: PCI class 0x0300xx "
     "(VGA), 0x0302xx (3D) or 0x0380xx (other display)."},
    {kGpuAmdCount, T::kInt, "gpu", "as gpu.nvidia.count",
     "AMD (vendor 0x1002) display controllers."},
    {kGpuIntelCount, T::kInt, "gpu", "as gpu.nvidia.count",
     "Intel (vendor 0x8086) display controllers."},
    {kGpuOtherCount, T::kInt, "gpu", "as gpu.nvidia.count",
     "Display controllers of any other vendor (a BMC's ASPEED VGA, a VM's "
     "emulated VGA)."},
    {kGpuNvidiaDevices, T::kRecordList, "gpu", "as gpu.nvidia.count",
     "One record per NVIDIA display controller: `address` (`0000:3b:00.0`), "
     "`vendor_id` (`0x10de`), `device_id` (`0x20b0`), `class` (`0x030200`), "
     "`model` (udev hwdb name, live host only, absent when unknown), "
     "`driver` (`nvidia`, `nouveau`, `vfio-pci`, ..., or `none`)."},
    {kGpuAmdDevices, T::kRecordList, "gpu", "as gpu.nvidia.count",
     "As gpu.nvidia.devices, for AMD display controllers."},
    {kGpuNvidiaDriverVersion, T::kString, "nvidia-driver",
     "/proc/driver/nvidia/version",
     "The loaded NVIDIA kernel module's version (`535.129.03`; L4T releases "
     "such as `34.1.1` on Jetson). Absent when no NVIDIA driver is loaded."},
    {kGpuNvidiaBoundCount, T::kInt, "gpu", "as gpu.nvidia.devices",
     "How many of the NVIDIA GPUs are bound to the `nvidia` kernel driver "
     "(not nouveau, vfio-pci or none)."},
    {kGpuNvidiaDriverLoaded, T::kBool, "nvidia-driver",
     "/proc/driver/nvidia/version",
     "The NVIDIA kernel driver is loaded (its /proc file exists); false when "
     "the root has a /proc without it; absent without a /proc."},
    {kGpuNvidiaDriverKind, T::kString, "nvidia-driver",
     "/proc/driver/nvidia/version",
     "`open` (NVIDIA UNIX Open Kernel Module) or `proprietary`."},
    {kGpuNvidiaDeviceNodes, T::kBool, "nvidia-driver",
     "stat of /dev/nvidia0 and /dev/nvidiactl (never opened)",
     "Both device nodes exist as character devices. Absent when the root "
     "has no /dev."},
    {kGpuNvidiaModels, T::kStringList, "nvidia-driver",
     "/proc/driver/nvidia/gpus/*/information",
     "The driver's `Model:` of each GPU it drives (`NVIDIA A10G`), in bus "
     "order."},
    {kPlatformKind, T::kString, "platform",
     "/proc/cpuinfo hypervisor flag, /sys/class/dmi/id/*, "
     "/sys/hypervisor/type, device-tree model",
     "`bare-metal` or `vm`. EC2 `*.metal` instances are `bare-metal` (with "
     "platform.cloud `aws`). Absent when no source says anything."},
    {kPlatformHypervisor, T::kString, "platform",
     "/sys/class/dmi/id/*, else /sys/hypervisor/type",
     "The hypervisor the guest names (`kvm`, `qemu`, `xen`, `hyperv`, "
     "`vmware`, `virtualbox`, `amazon` for EC2 Nitro, `google` for GCE, "
     "...). Absent when it names none (Firecracker: no DMI)."},
    {kPlatformCloud, T::kString, "platform",
     "node spec.providerID (agent mode), else /sys/class/dmi/id/*",
     "`aws`, `gce`, `azure`, `alibaba`, `oracle`, `openstack`, "
     "`digitalocean`, `hetzner`, ... or `none` (DMI names no cloud). Absent "
     "without DMI or providerID."},
    {kPlatformSysVendor, T::kString, "platform",
     "/sys/class/dmi/id/sys_vendor",
     "DMI system vendor as given (`Amazon EC2`, `Dell Inc.`)."},
    {kPlatformProductName, T::kString, "platform",
     "/sys/class/dmi/id/product_name",
     "DMI product name as given (`m5.large`, `PowerEdge R740`)."},
    {kNodeCpus, T::kInt, "platform",
     "/sys/devices/system/cpu/online, else /proc/cpuinfo `processor` lines",
     "Online CPUs (Sysbox recommends at least 4 for Kubernetes nodes)."},
    {kNodeMemoryBytes, T::kInt, "platform", "/proc/meminfo",
     "MemTotal in bytes (Sysbox recommends at least 4 GB)."},
    {kHostPathExists, T::kBool, "storage",
     "the path resolved inside the root (`<name>`: usr_src, lib_modules, "
     "var_run, var_lib, var_lib_kubelet, var_lib_containerd, var_lib_docker, "
     "var_lib_sysbox, tmp)",
     "Whether the host path exists; false only when it (or a parent) does "
     "not exist, absent when it could not be resolved."},
    {kHostPathResolved, T::kString, "storage", "the path resolved inside the root",
     "The canonical in-root path after symlinks (`/var/run` -> `/run`)."},
    {kHostPathFstype, T::kString, "storage",
     "/proc/1/mountinfo, else /proc/self/mountinfo, else /proc/mounts",
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
     "statvfs(2), local filesystem types only, live roots only; in a "
     "child process killed after a deadline when a mount on the way may "
     "hang",
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
     "/var/lib/dpkg/info/*.list, /lib/apk/db/installed, the rpm database "
     "(/var/lib/rpm or /usr/lib/sysimage/rpm, read by librpm from a private "
     "copy)",
     "The package that owns the containerd binary (`containerd.io`, "
     "`containerd`)."},
    {kRuntimeContainerdPackageVersion, T::kString, "runtime",
     "/var/lib/dpkg/status (and status.d/), /lib/apk/db/installed, the "
     "rpm database",
     "That package's full version (`1.5.11-1`; rpm: [epoch:]version-release, "
     "`1.6.21-3.1.el8`)."},
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
    // Workspace images: set only by `cvm-preflight image`, whose report
    // also carries the runtime.* facts of the image's own docker, containerd
    // and runc (the inner runtime of a CVM workspace).
    {kImageInitPresent, T::kBool, "workspace-image", "/sbin/init (links followed in the image)",
     "True when /sbin/init resolves to a file in the image; false when it is "
     "missing or a dangling link (the workspace then starts without systemd)."},
    {kImageInitTarget, T::kString, "workspace-image", "/sbin/init",
     "The in-image path /sbin/init resolves to (`/usr/lib/systemd/systemd`)."},
    {kImageInitSystemd, T::kBool, "workspace-image",
     "/sbin/init, /lib/systemd/systemd, /usr/lib/systemd/systemd",
     "True when /sbin/init is systemd: it resolves to an executable file named "
     "`systemd`, or to the same file as /lib/systemd/systemd; false when it is "
     "something else or missing."},
    {kImageDockerDaemon, T::kBool, "workspace-image",
     "dockerd in the binary directories (as runtime.binaries)",
     "True when the image has an executable dockerd."},
    {kImageDockerDaemonPath, T::kString, "workspace-image", "as image.docker.daemon",
     "In-image path of dockerd."},
    {kImageDockerCli, T::kBool, "workspace-image",
     "docker in the binary directories (as runtime.binaries)",
     "True when the image has an executable docker CLI."},
    {kImageDockerCliPath, T::kString, "workspace-image", "as image.docker.cli",
     "In-image path of the docker CLI."},
    {kImageDockerServiceEnabled, T::kBool, "workspace-image",
     "/etc/systemd/system/*.wants/docker.service, /etc/systemd/system/docker.service",
     "True when a `*.wants/docker.service` link (what `systemctl enable docker` "
     "makes, multi-user.target.wants) resolves to a unit file and the unit is "
     "not masked."},
    {kImageDockerSocketEnabled, T::kBool, "workspace-image",
     "/etc/systemd/system/*.wants/docker.socket, /etc/systemd/system/docker.socket",
     "True when a `*.wants/docker.socket` link (sockets.target.wants) resolves "
     "to a unit file and the unit is not masked: dockerd then starts on the "
     "first use of /run/docker.sock."},
    {kImageDockerMasked, T::kBool, "workspace-image",
     "/etc/systemd/system/docker.service, docker.socket",
     "True when docker.service or docker.socket is masked (a link to /dev/null)."},
    {kImageDockerEnabledBy, T::kStringList, "workspace-image", "as image.docker.service_enabled",
     "The wants links found for docker.service and docker.socket."},
    {kImageTmpCount, T::kInt, "workspace-image", "/tmp (walked at most 8 levels deep)",
     "How many entries other than directories are under /tmp (counted up to "
     "10000); 0 when /tmp is empty or missing."},
    {kImageTmpFiles, T::kStringList, "workspace-image", "as image.tmp.count",
     "The first 20 of them, in-image paths in name order."},
    {kImagePackagesDb, T::kString, "workspace-image",
     "/var/lib/dpkg/status (and status.d/), the rpm database, /lib/apk/db/installed",
     "The package database read: `dpkg`, `rpm` or `apk`; absent when the image "
     "has none."},
    {kImagePackagesInstalled, T::kStringList, "workspace-image", "as image.packages.db",
     "The packages of the Coder docs' example image that are installed "
     "(build-essential, git, bash, docker.io, curl, sudo, systemd), each under "
     "its docs name (docker.io also counts as docker-ce, moby-engine or docker)."},
    {kImagePackagesMissing, T::kStringList, "workspace-image", "as image.packages.db",
     "The packages of that list that are not installed, under their docs names."},
    {kImagePlatform, T::kString, "workspace-image", "as image.packages.db",
     "The platform the image's packages are built for, as an OCI platform "
     "(`linux/amd64`, `linux/arm/v7`): the architecture of the first of those "
     "packages that is not architecture-independent."},
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
