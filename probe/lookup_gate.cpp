#include "probe/lookup_gate.h"

#include <algorithm>

#include "probe/storage.h"

namespace cvm::probe {
namespace {

// The kernel's own pseudo filesystems; disk filesystems are
// IsLocalFsType's. Not here, on purpose: every network and FUSE type,
// autofs (a lookup triggers an automount that may wait on a server), and
// anything unknown.
constexpr std::string_view kPseudoTypes[] = {
    "proc",    "sysfs",   "devpts",   "cgroup",   "cgroup2",     "securityfs",
    "debugfs", "tracefs", "pstore",   "bpf",      "mqueue",      "hugetlbfs",
    "configfs", "binfmt_misc", "efivarfs", "selinuxfs", "nsfs",  "fusectl",
};

}  // namespace

bool IsNonBlockingFsType(std::string_view fstype) {
  return IsLocalFsType(fstype) ||
         std::find(std::begin(kPseudoTypes), std::end(kPseudoTypes), fstype) !=
             std::end(kPseudoTypes);
}

LookupGate::LookupGate(const MountTable& table, std::string root_path)
    : usable_(!root_path.empty() && root_path.front() == '/'),
      root_path_(root_path == "/" ? std::string() : std::move(root_path)) {
  for (const auto& m : table.mounts) {
    if (!IsNonBlockingFsType(m.fstype)) blocking_.push_back(m.mount_point);
  }
}

LookupGate LookupGate::ForRoot(const HostRoot& root) {
  auto where = root.PathInProcess();
  if (!where) return {};
  auto self = HostRoot::Open("/");
  if (!self) return {};
  auto text = self->ReadFile("/proc/self/mountinfo", kMountInfoCap);
  if (!text) return {};
  MountTable table = ParseMountInfo(*text);
  // A line that did not parse may be the mount that blocks.
  if (!table.warnings.empty() || table.mounts.empty()) return {};
  return LookupGate(table, *where);
}

bool LookupGate::Allows(std::string_view path) const {
  if (!usable_) return false;
  std::string real = root_path_;
  if (path != "/" || real.empty()) real += path;
  for (std::string_view mp : blocking_) {
    if (mp == "/" || real == mp ||
        (real.size() > mp.size() && real.compare(0, mp.size(), mp) == 0 &&
         real[mp.size()] == '/')) {
      return false;
    }
  }
  return true;
}

}  // namespace cvm::probe
