#pragma once
// Host paths the Coder CVM docs name, and the mounts that hold them.
// Reads: /proc/1/mountinfo, else /proc/self/mountinfo, else /proc/mounts
//        (ReadMountTable; no propagation from the last);
//        the paths of kHostPaths, resolved inside the root; statvfs of the
//        local ones. A path whose lookups land only on filesystems that
//        cannot hang (LookupGate, from this process's own mounts) is
//        answered in-process; each other path by its own child process,
//        all forked at once and killed at one shared deadline
//        (probe/child.h).
// Facts: hostpath.<name>.{exists,resolved,fstype,source,mount_point,
//        readonly,propagation,free_bytes}, storage.network_filesystems.
// A path that does not exist is `.exists` false with no mount facts and no
// error. Without a mount table the mount facts and the list are left out
// with one error; `.exists` and `.resolved` are still reported. A path
// whose resolution does not answer by the deadline (a hung filesystem) is
// an error; if the path is itself a mount point, the mount table still
// gives `.exists` and the mount facts (not `.resolved`). free_bytes
// is taken only on local filesystem types and only when the root's /proc is
// a live procfs (the mount table then describes the root's own mounts).

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "probe/probe.h"

namespace cvm::probe {

// The paths of interest (cvm-requirements.md, the Coder hostPath table,
// plus the container runtimes' storage and /tmp).
inline constexpr std::string_view kHostPaths[] = {
    "/usr/src",         "/lib/modules",        "/var/run",
    "/var/lib",         "/var/lib/kubelet",    "/var/lib/containerd",
    "/var/lib/docker",  "/var/lib/sysbox",     "/tmp",
};

// "/var/lib/kubelet" -> "var_lib_kubelet".
std::string HostPathName(std::string_view path);
// NFS, CIFS/SMB, Ceph, GlusterFS, 9p, Lustre, AFS and every FUSE type.
bool IsNetworkFsType(std::string_view fstype);
// Types statvfs can be asked about without risk of hanging on a server.
bool IsLocalFsType(std::string_view fstype);

struct StorageOptions {
  std::chrono::milliseconds statvfs_deadline{2000};
  // Tests: types treated as local on top of the built-in list (a hung
  // FUSE mount passed off as local to exercise the deadline).
  std::vector<std::string> extra_local_types;
  // Tests: take free_bytes in a folder root too (no live /proc).
  bool statvfs_without_procfs = false;
};

ProbeOutput ProbeStorage(const ProbeContext& ctx) noexcept;
ProbeOutput ProbeStorageWith(const ProbeContext& ctx,
                             const StorageOptions& options) noexcept;

}  // namespace cvm::probe
