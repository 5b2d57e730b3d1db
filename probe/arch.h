#pragma once
// The machine architecture.
// Reads: /proc/sys/kernel/arch; else uname(2) when the root's /proc is a
//        live procfs (the root's kernel is the running one); else the
//        kernel release's suffix (.x86_64, -amd64, .aarch64, -arm64), with
//        the source saying so.
// Facts: kernel.arch ("x86_64", "aarch64", ...).
// Sysbox supports amd64 and arm64 only; judging that is the rules' job.

#include <string>
#include <string_view>

#include "probe/probe.h"

namespace cvm::probe {

// "x86_64" for "4.18.0-477.27.1.el8_8.x86_64" or "6.1.0-13-amd64"; "" when
// the release names no architecture.
std::string ArchFromRelease(std::string_view release);

ProbeOutput ProbeArchitecture(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
