#pragma once
// The host's cgroup hierarchy.
// Reads: /proc/1/mountinfo, else /proc/self/mountinfo (only when the first
//        does not exist); without a mount table, the layout of
//        /sys/fs/cgroup; /sys/fs/cgroup/cgroup.controllers for v2.
// Facts: cgroup.version ("v1", "v2", "hybrid"), cgroup.controllers.
// A root with neither a mount table nor /sys/fs/cgroup leaves both out
// with an error.

#include <string>
#include <string_view>

#include "probe/mountinfo.h"
#include "probe/probe.h"

namespace cvm::probe {

struct CgroupLayout {
  std::string version;     // "v1", "v2", "hybrid" or "" (no cgroup mounts)
  StringList controllers;  // sorted, unique
  std::string v2_mount;    // mount point of the cgroup2 hierarchy, if any
  bool operator==(const CgroupLayout&) const = default;
};

// What the cgroup and cgroup2 mounts of a table say. v2 controllers are
// not in the mount table; the probe reads them from cgroup.controllers.
CgroupLayout CgroupLayoutFromMounts(const MountTable& table);

ProbeOutput ProbeCgroup(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
