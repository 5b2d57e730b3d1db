#pragma once
// The host programs sysbox-mgr requires (rsync, modprobe, iptables:
// preFlightCheck in nestybox/sysbox-mgr) and the one Sysbox's installer
// adds (fusermount, fusermount3 on newer fuse).
// Reads: /usr/sbin, /usr/bin, /sbin, /bin, /usr/local/sbin, /usr/local/bin.
// Facts: host.tools.<name>.
// Found: a regular file with an execute bit, links followed inside the root.
// When none of the directories exists (an image, a fixture without them)
// every fact is left out with one error; a directory that cannot be read
// (other than ENOENT) leaves out the tools it could have held.

#include "probe/probe.h"

namespace cvm::probe {

ProbeOutput ProbeHostTools(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
