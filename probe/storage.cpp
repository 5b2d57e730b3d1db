#include "probe/storage.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <functional>
#include <optional>

#include "probe/child.h"
#include "probe/fact_catalog.h"
#include "probe/lookup_gate.h"
#include "probe/mountinfo.h"

namespace cvm::probe {
namespace {

constexpr std::string_view kNetworkTypes[] = {
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs",
    "9p",  "lustre", "afs", "fuse", "fuseblk",
};
constexpr std::string_view kLocalTypes[] = {
    "ext2",  "ext3",  "ext4",    "xfs",      "btrfs", "tmpfs",
    "ramfs", "overlay", "zfs",   "f2fs",     "vfat",  "exfat",
    "jfs",   "reiserfs", "bcachefs", "squashfs", "iso9660", "devtmpfs",
};

template <std::size_t N>
bool In(const std::string_view (&list)[N], std::string_view s) {
  return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

// What the child found for one path. Records on the pipe are NUL-separated
// fields (paths and errno texts hold no NUL), written as each step ends so
// a hang in statvfs still leaves the resolution to the parent.
struct PathAnswer {
  std::optional<std::string> resolved;
  std::optional<Error> resolve_error;
  std::optional<std::int64_t> free_bytes;
  std::optional<Error> statvfs_error;
};

// Where an answer's records go: the pipe of a child, or a string when the
// path is answered in the scan's own process.
using Emit = std::function<void(std::initializer_list<std::string_view>)>;

std::string Joined(std::initializer_list<std::string_view> fields) {
  std::string out;
  for (auto f : fields) {
    out += f;
    out += '\0';
  }
  return out;
}

PathAnswer ParseAnswer(std::string_view text) {
  std::vector<std::string> f;
  while (!text.empty()) {
    auto nul = text.find('\0');
    if (nul == std::string_view::npos) break;  // a record cut short
    f.emplace_back(text.substr(0, nul));
    text.remove_prefix(nul + 1);
  }
  PathAnswer a;
  for (std::size_t i = 0; i < f.size(); ++i) {
    auto code = [&](std::size_t j) { return std::atoi(f[j].c_str()); };
    if (f[i] == "R" && i + 1 < f.size()) {
      a.resolved = f[++i];
    } else if (f[i] == "E" && i + 3 < f.size()) {
      a.resolve_error = Error{code(i + 1), f[i + 2], f[i + 3]};
      i += 3;
    } else if (f[i] == "F" && i + 1 < f.size()) {
      a.free_bytes = std::atoll(f[++i].c_str());
    } else if (f[i] == "G" && i + 3 < f.size()) {
      a.statvfs_error = Error{code(i + 1), f[i + 2], f[i + 3]};
      i += 3;
    }
  }
  return a;
}

void RecordError(const Emit& emit, std::string_view tag, const Error& e) {
  emit({tag, std::to_string(e.code), e.path, e.message});
}

// Resolves, then (when asked) fstatvfs on an O_PATH fd of the resolved
// directory. f_bavail * f_frsize is what df calls Avail. With a gate,
// resolves only what the gate allows and returns false, having emitted
// nothing, when it refused a lookup.
bool Answer(const Emit& emit, const HostRoot& root, std::string_view path,
            const MountTable* table, const StorageOptions& options,
            const LookupGate* gate) {
  auto resolved = gate == nullptr
                      ? root.Resolve(path)
                      : root.Resolve(path, [gate](std::string_view p) { return gate->Allows(p); });
  if (!resolved && resolved.error().code == HostRoot::kLookupRefused) return false;
  if (!resolved) {
    RecordError(emit, "E", resolved.error());
    return true;
  }
  emit({"R", *resolved});
  const MountInfo* m = table ? FindMountFor(*table, *resolved) : nullptr;
  if (m == nullptr) return true;
  bool local = IsLocalFsType(m->fstype) ||
               std::find(options.extra_local_types.begin(),
                         options.extra_local_types.end(),
                         m->fstype) != options.extra_local_types.end();
  if (!local) return true;
  // In-process, the gate has allowed every mount on the way to the
  // resolved path, so this resolution and statfs stay on them too.
  auto dir = root.PinDirectory(*resolved);
  if (!dir) {
    RecordError(emit, "G", dir.error());
    return true;
  }
  struct statvfs sv;
  if (::fstatvfs(dir->fd.get(), &sv) != 0) {
    RecordError(emit, "G", ErrnoError(errno, *resolved));
    return true;
  }
  emit({"F", std::to_string(static_cast<std::int64_t>(sv.f_bavail) *
                            static_cast<std::int64_t>(sv.f_frsize))});
  return true;
}

// kHostPathFstype with "<name>" -> "hostpath.var_lib.fstype".
std::string Named(std::string_view pattern, std::string_view name) {
  std::string out(pattern);
  out.replace(out.find("<name>"), 6, name);
  return out;
}

}  // namespace

std::string HostPathName(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::string out(path);
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

namespace {

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

bool IsNetworkFsType(std::string_view fstype) {
  return In(kNetworkTypes, fstype) || fstype.rfind("fuse.", 0) == 0;
}

bool IsLocalFsType(std::string_view fstype) { return In(kLocalTypes, fstype); }

ProbeOutput ProbeStorage(const ProbeContext& ctx) noexcept {
  return ProbeStorageWith(ctx, StorageOptions{});
}

ProbeOutput ProbeStorageWith(const ProbeContext& ctx,
                             const StorageOptions& options) noexcept {
  return Guarded([&](ProbeOutput& out) {
    const auto& read = ctx.mounts.Get();
    const MountTable* table = read ? &read->table : nullptr;
    std::string source = read ? read->source : "";
    if (!read) {
      Error e = read.error();
      e.message += ": the mounts holding the host paths are unknown";
      out.AddError(std::move(e));
    } else {
      for (const auto& w : table->warnings) out.AddError(MakeError(source, w));
    }
    // statvfs measures the root's own mounts only when its /proc is live.
    bool statvfs_ok = table != nullptr &&
                      (options.statvfs_without_procfs || ctx.root.HasProcfs());
    const MountTable* child_table = statvfs_ok ? table : nullptr;
    StringList network;
    // A child the scan can abandon is needed only where a lookup may block:
    // a path whose every lookup (each component, links followed, and the
    // stat and statfs of what it ends on) lands on a filesystem the
    // kernel answers alone is resolved here, as LookupGate decides from
    // this process's own mount table, the mounts these lookups really go
    // through (the root's /proc may describe another namespace, or be a
    // fixture's text). The gate is asked before each lookup, so a link to
    // an NFS or FUSE mount stops the walk before it gets there, and the
    // path goes to a child as before. What stays open is a mount made
    // between reading the table and the lookup, a window of microseconds.
    LookupGate gate = LookupGate::ForRoot(ctx.root);
    std::vector<ChildRun> runs(std::size(kHostPaths));
    std::vector<std::size_t> in_child;
    for (std::size_t i = 0; i < std::size(kHostPaths); ++i) {
      std::string text;
      Emit to_text = [&text](std::initializer_list<std::string_view> f) { text += Joined(f); };
      if (gate.AllowsAnything() &&
          Answer(to_text, ctx.root, kHostPaths[i], child_table, options, &gate)) {
        runs[i].output = std::move(text);
        runs[i].clean_exit = true;
      } else {
        in_child.push_back(i);
      }
    }
    // The rest: one child per path, all at once, so hung mounts under
    // several paths cost one deadline, not one each. Records are written
    // as each step ends, so a hang in statvfs still leaves the resolution.
    // Keyed by root and path: while the child of an earlier scan still
    // hangs on a path, no second one is forked for it (probe/child.h).
    std::vector<std::function<void(int)>> works;
    std::vector<std::string> keys;
    for (std::size_t i : in_child) {
      std::string_view path = kHostPaths[i];
      works.push_back([&, path](int fd) {
        Emit to_pipe = [fd](std::initializer_list<std::string_view> f) { WriteAll(fd, Joined(f)); };
        Answer(to_pipe, ctx.root, path, child_table, options, nullptr);
      });
      std::string key = "storage ";
      key += ctx.root.path();
      key += ' ';
      key += path;
      keys.push_back(std::move(key));
    }
    if (!works.empty()) {
      auto children = RunChildrenWithDeadline(works, options.statvfs_deadline, keys);
      if (!children) {
        out.AddError(children.error());
        return;
      }
      for (std::size_t k = 0; k < in_child.size(); ++k) {
        runs[in_child[k]] = std::move((*children)[k]);
      }
    }
    for (std::size_t i = 0; i < std::size(kHostPaths); ++i) {
      std::string_view path = kHostPaths[i];
      const ChildRun* run = &runs[i];
      std::string name = HostPathName(path);
      auto set_mount = [&](const MountInfo& m) {
        out.Set(Named(kHostPathFstype, name), m.fstype, source);
        out.Set(Named(kHostPathSource, name), m.source, source);
        out.Set(Named(kHostPathMountPoint, name), m.mount_point, source);
        out.Set(Named(kHostPathReadonly, name), m.ReadOnly(), source);
        if (table->has_ids) {
          out.Set(Named(kHostPathPropagation, name), m.Propagation(), source);
        }
        if (IsNetworkFsType(m.fstype)) {
          network.push_back(std::string(path) + " " + m.fstype + " " + m.source);
        }
      };
      PathAnswer a = ParseAnswer(run->output);
      auto secs = std::to_string(options.statvfs_deadline.count()) + " ms";
      if (!a.resolved && !a.resolve_error) {
        // A hung filesystem mounted right on the path: the mount table
        // alone says it exists (it is a mount point) and what holds it.
        const MountInfo* m = table && run->timed_out ? FindMountFor(*table, path) : nullptr;
        if (m != nullptr && m->mount_point == path) {
          out.Set(Named(kHostPathExists, name), true, source + " (a mount point)");
          set_mount(*m);
        }
        std::string why;
        if (run->hung_since) {
          why = "the child of an earlier scan resolving it has hung since " +
                Rfc3339(*run->hung_since) +
                " (killed, stuck in the kernel: a hung network filesystem?); not tried again "
                "until it ends";
        } else if (run->timed_out) {
          why = "resolving did not answer within " + secs + " (a hung network filesystem?)";
        } else {
          why = "the child resolving it failed";
        }
        out.AddError(MakeError(std::string(path), std::move(why),
                               run->timed_out ? ETIMEDOUT : 0));
        continue;
      }
      if (a.resolve_error) {
        int code = a.resolve_error->code;
        // Absence has a meaning: no such path in the root (ENOTDIR: a
        // component on the way is not a directory, so it cannot exist).
        if (code == ENOENT || code == ENOTDIR) {
          out.Set(Named(kHostPathExists, name), false, path);
        } else {
          out.AddError(*a.resolve_error);
        }
        continue;
      }
      out.Set(Named(kHostPathExists, name), true, path);
      out.Set(Named(kHostPathResolved, name), *a.resolved, path);
      if (table == nullptr) continue;
      const MountInfo* m = FindMountFor(*table, *a.resolved);
      if (m == nullptr) {
        out.AddError(MakeError(source, "no mount holds " + *a.resolved));
        continue;
      }
      set_mount(*m);
      if (a.free_bytes) {
        out.Set(Named(kHostPathFreeBytes, name), *a.free_bytes, "statvfs(" + *a.resolved + ")");
      } else if (a.statvfs_error) {
        out.AddError(*a.statvfs_error);
      } else if (run->timed_out) {
        out.AddError(MakeError(*a.resolved,
                               "statvfs did not answer within " + secs + " (" +
                                   m->fstype + " " + m->source + ")",
                               ETIMEDOUT));
      }
    }
    if (table != nullptr) out.Set(kStorageNetworkFilesystems, network, source);
  });
}

}  // namespace cvm::probe
