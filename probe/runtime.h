#pragma once
// Container runtimes: which binaries are there, their versions, and the
// runtime handlers configured for the CRI.
// Reads: the binary directories listed in kRuntimeBinaryDirs; /proc/<pid>/exe
//        links where /proc is a live procfs (at most kMaxPids pids);
//        /var/lib/dpkg/status, status.d/*, info/<pkg>.list;
//        /lib/apk/db/installed; the ELF .go.buildinfo of each binary;
//        containerd config.toml (and imports, k3s/RKE2 generated ones),
//        /etc/crio/crio.conf and crio.conf.d/*.conf.
// Facts: runtime.binaries, runtime.<containerd|runc>.{version,package,
//        package_version,path,source}, runtime.runc.commit,
//        runtime.{crio,crun,docker,sysbox,nvidia_toolkit}.{version,path},
//        runtime.sysbox.installed, runtime.handlers.
// Versions come from the best source (package db, Go build info, then
// `--version` with --exec-versions on a live root, then the node object);
// a binary whose version no source gives is an error naming the binary.
// No binary at all: runtime.binaries is empty and sysbox.installed false;
// but a root where none of the directories exists (an empty folder) leaves
// both out with an error: that is not a host without runtimes.

#include <string_view>

#include "probe/probe.h"

namespace cvm::probe {

inline constexpr std::string_view kRuntimeBinaryDirs[] = {
    "/usr/bin",       "/usr/sbin",
    "/usr/local/bin", "/usr/local/sbin",
    "/bin",           "/sbin",
    "/opt/bin",  // Flatcar
    "/home/kubernetes/bin",  // COS
    "/var/lib/rancher/rke2/bin",
    "/var/lib/rancher/k3s/data/current/bin",
};
inline constexpr int kMaxPids = 4096;

ProbeOutput ProbeRuntime(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
