#pragma once
// A pure parser for /proc/<pid>/mountinfo, per proc(5):
//   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
// Octal escapes (\040 space, \011 tab, \012 newline, \134 backslash) in the
// root, mount point and source are decoded; optional fields (shared:N,
// master:N, propagate_from:N, unbindable) are kept; bad lines are skipped
// with a warning naming the line.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/host_root.h"
#include "probe/result.h"

namespace cvm::probe {

struct MountInfo {
  std::int64_t mount_id = 0;
  std::int64_t parent_id = 0;
  std::uint32_t major = 0;
  std::uint32_t minor = 0;
  std::string root;         // path inside the mounted filesystem
  std::string mount_point;  // in the reading process's mount namespace
  std::string options;      // per-mount options: "rw,relatime"
  std::vector<std::string> optional_fields;
  std::string fstype;
  std::string source;
  std::string super_options;

  bool operator==(const MountInfo&) const = default;
  // "ro" among the per-mount or the superblock options: either makes
  // writes fail with EROFS.
  bool ReadOnly() const;
  // "shared", "slave", "shared,slave" or "private", from the optional fields.
  std::string Propagation() const;
};

struct MountTable {
  std::vector<MountInfo> mounts;  // file order: later mounts are on top
  std::vector<std::string> warnings;
  // False for /proc/mounts: no mount ids, device numbers (all 0:0), roots
  // or optional fields, so Propagation() would say "private" unknowing.
  bool has_ids = true;
};

MountTable ParseMountInfo(std::string_view text);

// The older /proc/mounts (fstab(5) layout, per proc(5)):
//   server:/export / nfs rw,relatime,vers=3 0 0
// source, mount point, type, options; octal escapes decoded. No mount ids,
// roots, optional fields or superblock options (options holds them all).
MountTable ParseProcMounts(std::string_view text);

// Decodes proc(5) octal escapes; malformed escapes are kept as they are.
std::string UnescapeMountField(std::string_view field);

// The mount holding canonical path `path`: the longest mount point that is
// `path` or a parent of it, the last one listed winning among equals.
const MountInfo* FindMountFor(const MountTable& table, std::string_view path);

// The host's mount table and the in-root file it came from.
struct MountTableRead {
  MountTable table;
  std::string source;  // "/proc/1/mountinfo", "/proc/self/mountinfo", "/proc/mounts"
};

inline constexpr std::size_t kMountInfoCap = 4 << 20;

// Reads /proc/1/mountinfo, else /proc/self/mountinfo, else /proc/mounts
// (kernels before 2.6.26 have no mountinfo), each next one only when the
// one before does not exist (ENOENT only; EACCES, ELOOP or EFBIG stop the
// chain). The error of a root with none has code ENOENT and names the last
// path.
// Parse warnings are in table.warnings for the caller to report.
Result<MountTableRead> ReadMountTable(const HostRoot& root);

// The root's mount table, read on first use and then shared: the cgroup,
// storage and blockdev probes of one scan read it once, not three times.
class MountTableOnce {
 public:
  explicit MountTableOnce(const HostRoot& root) : root_(root) {}
  const Result<MountTableRead>& Get();

 private:
  const HostRoot& root_;
  std::optional<Result<MountTableRead>> read_;
};

}  // namespace cvm::probe
