#pragma once
// Which paths of a root this process may look up without risk of blocking:
// those whose every lookup lands on a filesystem that answers from the
// kernel alone (ext4, xfs, tmpfs, overlay, procfs, sysfs, ...), never on
// one that waits for a server or a daemon (NFS, CIFS, Ceph, 9p, FUSE,
// autofs, any type not known here). The storage probe resolves the former
// in-process and forks a child it can abandon only for the latter.
//
// Reads: /proc/self/mountinfo of this process (the mounts its own lookups
// go through, whatever the root's /proc says), and the root's path here.

#include <string>
#include <string_view>
#include <vector>

#include "probe/host_root.h"
#include "probe/mountinfo.h"

namespace cvm::probe {

// Types whose lookups, stat and statfs never wait for anything outside the
// kernel (a disk's I/O aside).
bool IsNonBlockingFsType(std::string_view fstype);

class LookupGate {
 public:
  // A gate that allows nothing: everything goes to a child.
  LookupGate() = default;
  // `table`: this process's mounts; `root_path`: the root's path in this
  // process's namespace ("/" or "/host").
  LookupGate(const MountTable& table, std::string root_path);
  // From this process's /proc/self/mountinfo and the root's
  // PathInProcess(); allows nothing when either cannot be read.
  static LookupGate ForRoot(const HostRoot& root);

  // True when looking up canonical in-root path `path` (and stat-ing what
  // is there) touches only non-blocking filesystems: every mount whose
  // mount point is the path or one of its parents, the root's own and
  // those above it included, has a non-blocking type. Checking them all,
  // not only the top one, keeps it right whatever is mounted over what.
  bool Allows(std::string_view path) const;
  bool AllowsAnything() const { return usable_; }

 private:
  bool usable_ = false;
  std::string root_path_;               // "" for "/"
  std::vector<std::string> blocking_;   // mount points of the other types
};

}  // namespace cvm::probe
