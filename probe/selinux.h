#pragma once
// SELinux state of the host.
// Reads: /sys/fs/selinux/enforce (else /selinux/enforce, where RHEL 6
//        mounted selinuxfs), /etc/selinux/config.
// Facts: selinux.mode, selinux.config_mode, selinux.config_type.
// No selinuxfs under an existing /sys/fs means "disabled"; a root without
// /sys/fs (an image, a bare folder) leaves selinux.mode out with an error.
// No /etc/selinux/config (Ubuntu, Debian) sets selinux.config_mode "none";
// an unreadable one leaves the config facts out with the error.

#include "probe/probe.h"

namespace cvm::probe {

ProbeOutput ProbeSelinux(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
