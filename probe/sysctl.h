#pragma once
// User namespaces, AppArmor and the sysctls Sysbox's installer raises.
// Reads: /proc/sys/kernel/unprivileged_userns_clone,
//        /proc/sys/user/max_user_namespaces,
//        /proc/sys/kernel/apparmor_restrict_unprivileged_userns,
//        /sys/module/apparmor/parameters/enabled,
//        /proc/sys/fs/inotify/*, /proc/sys/kernel/keys/*,
//        /proc/sys/kernel/pid_max, /proc/sys/vm/max_map_count.
// Facts: userns.*, apparmor.*, sysctl.*.
// Each file is read on its own; a missing or odd file leaves its fact out
// with an error. Two files exist only on some kernels
// (unprivileged_userns_clone: Debian/Ubuntu patch, also in Photon OS; apparmor_restrict_*:
// Ubuntu 23.10+): on a live procfs their absence is a finding (fact out, no
// error); in a folder root it is unknown (error). No /sys/module/apparmor
// under an existing /sys/module means AppArmor is not enabled.

#include <cstdint>
#include <string_view>

#include "probe/probe.h"
#include "probe/result.h"

namespace cvm::probe {

// A sysctl file holding one decimal integer ("65536\n").
Result<std::int64_t> ParseSysctlInt(std::string_view text);

// A kernel boolean module parameter: "Y" or "N" (also "1"/"0").
Result<bool> ParseKernelBool(std::string_view text);

ProbeOutput ProbeSysctl(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
