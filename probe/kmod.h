#pragma once
// Kernel modules CVMs use, and shiftfs, without loading anything.
// Reads: /lib/modules/<kernel.release>/ (modules.dep.bin and the other
//        indexes through libkmod, modules.builtin as text), /proc/modules,
//        /proc/filesystems, /opt/lib/modules-load.d/shiftfs.ko (Flatcar).
// Facts: kernel.modules.<name>, shiftfs.state, shiftfs.path, shiftfs.origin,
//        shiftfs.registered.
// State: builtin (modules.builtin), loaded (/proc/modules), available (the
// index resolves a module file), absent. Without /lib/modules/<release>
// (COS, minimal VMs) only `loaded` can be told, with one error for the
// rest; without /proc/modules `builtin` and, for modules the index
// resolves, `available` can (whether they are also loaded is unknown);
// modules the index does not know stay unknown (they may be insmod-ed).

#include <set>
#include <string>
#include <string_view>

#include "probe/probe.h"

namespace cvm::probe {

// Module names of /proc/modules ("shiftfs 32768 0 - Live 0x0000000000000000"):
// the first field of each line.
std::set<std::string> ParseProcModules(std::string_view text);

// File system names of /proc/filesystems ("nodev\tshiftfs", "\text4").
std::set<std::string> ParseProcFilesystems(std::string_view text);

// Module names of modules.builtin ("kernel/fs/overlayfs/overlay.ko" ->
// "overlay"), '-' folded to '_' as the kernel names modules.
std::set<std::string> ParseModulesBuiltin(std::string_view text);

// Where a module file sits, from its path relative to
// /lib/modules/<release>: "in-tree" (kernel/), "dkms" (updates/, extra/),
// "other" (weak-updates/, misc/, ...).
std::string_view ModuleOrigin(std::string_view relative_path);

ProbeOutput ProbeKernelModules(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
