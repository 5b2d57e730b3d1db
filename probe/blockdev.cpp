#include "probe/blockdev.h"

#include <unistd.h>

#include <cerrno>
#include <optional>

#include "probe/detail/blkid_ptr.h"
#include "probe/fact_catalog.h"
#include "probe/mountinfo.h"

namespace cvm::probe {
namespace {

constexpr std::size_t kXfsSuperblockBytes = 512;  // one sector holds xfs_dsb

std::uint32_t Be32(std::string_view b, std::size_t off) {
  auto u = [&](std::size_t i) { return static_cast<std::uint8_t>(b[off + i]); };
  return (std::uint32_t{u(0)} << 24) | (std::uint32_t{u(1)} << 16) |
         (std::uint32_t{u(2)} << 8) | std::uint32_t{u(3)};
}

std::string Named(std::string_view pattern, std::string_view name) {
  std::string out(pattern);
  out.replace(out.find("<name>"), 6, name);
  return out;
}

struct Superblock {
  std::string type, uuid, label;
};

// libblkid on an fd HostRoot opened; `display` names the device in errors.
Result<Superblock> ProbeFd(int fd, const std::string& display) {
  detail::BlkidProbePtr pr(blkid_new_probe());
  if (!pr) return MakeError(display, "blkid_new_probe failed", ENOMEM);
  if (blkid_probe_set_device(pr.get(), fd, /*off=*/0, /*size=*/0) != 0) {
    return MakeError(display, "blkid_probe_set_device failed", EIO);
  }
  blkid_probe_enable_superblocks(pr.get(), 1);
  blkid_probe_set_superblocks_flags(
      pr.get(), BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL);
  int rc = blkid_do_safeprobe(pr.get());
  if (rc == 1) return MakeError(display, "libblkid found no filesystem");
  if (rc == -2) {
    return MakeError(display, "libblkid found more than one filesystem "
                              "signature (ambivalent)");
  }
  if (rc != 0) return MakeError(display, "libblkid could not probe it", EIO);
  Superblock sb;
  auto get = [&](const char* key, std::string& out) {
    const char* data = nullptr;
    std::size_t len = 0;
    if (blkid_probe_lookup_value(pr.get(), key, &data, &len) == 0 && data) {
      out.assign(data, len > 0 && data[len - 1] == '\0' ? len - 1 : len);
    }
  };
  get("TYPE", sb.type);
  get("UUID", sb.uuid);
  get("LABEL", sb.label);
  return sb;
}

// The device path in the root: the mount source when it is a path that
// exists there, else /dev/<DEVNAME> of the device numbers.
Result<std::string> DevicePath(const ProbeContext& ctx, const MountInfo& m) {
  std::optional<Error> source_error;
  if (m.source.rfind("/", 0) == 0) {
    auto st = ctx.root.Stat(m.source);
    if (st) return m.source;
    if (st.error().code != ENOENT) return st.error();
    source_error = st.error();
  }
  std::string uevent = "/sys/dev/block/" + std::to_string(m.major) + ":" +
                       std::to_string(m.minor) + "/uevent";
  auto text = ctx.root.ReadFile(uevent, 64 << 10);
  if (!text) return source_error ? *source_error : text.error();
  std::string name = DevNameFromUevent(*text);
  if (name.empty()) return MakeError(uevent, "no DEVNAME=");
  return "/dev/" + name;
}

void ProbeOne(const ProbeContext& ctx, std::string_view name,
              const MountInfo& m, ProbeOutput& out) {
  auto path = DevicePath(ctx, m);
  if (!path) {
    out.AddError(path.error());
    return;
  }
  auto fd = ctx.root.OpenBlockDevice(*path);
  if (!fd) {
    out.AddError(fd.error());
    return;
  }
  auto sb = ProbeFd(fd->get(), *path);
  if (!sb) {
    out.AddError(sb.error());
    return;
  }
  std::string source = "libblkid(" + *path + ")";
  if (!sb->type.empty()) out.Set(Named(kBlockdevType, name), sb->type, source);
  if (!sb->uuid.empty()) out.Set(Named(kBlockdevUuid, name), sb->uuid, source);
  if (!sb->label.empty()) out.Set(Named(kBlockdevLabel, name), sb->label, source);
  if (sb->type != "xfs") return;
  std::string bytes(kXfsSuperblockBytes, '\0');
  ssize_t n = ::pread(fd->get(), bytes.data(), bytes.size(), 0);
  if (n < 0) {
    out.AddError(ErrnoError(errno, *path));
    return;
  }
  bytes.resize(static_cast<std::size_t>(n));
  auto ftype = ParseXfsFtype(bytes);
  if (!ftype) {
    out.AddError(MakeError(*path, ftype.error().message));
    return;
  }
  out.Set(Named(kBlockdevXfsFtype, name), std::int64_t{*ftype},
          "XFS superblock of " + *path);
}

}  // namespace

Result<int> ParseXfsFtype(std::string_view sb) {
  if (sb.size() < 220) return MakeError("", "too short for an XFS superblock");
  if (Be32(sb, 0) != 0x58465342) return MakeError("", "no XFS magic (XFSB)");
  std::uint16_t versionnum = static_cast<std::uint16_t>(
      (static_cast<std::uint8_t>(sb[100]) << 8) | static_cast<std::uint8_t>(sb[101]));
  if ((versionnum & 0x000f) == 5) {
    return (Be32(sb, 216) & 0x1u) != 0 ? 1 : 0;  // sb_features_incompat
  }
  if ((versionnum & 0x8000) == 0) return 0;  // no sb_features2 at all
  return (Be32(sb, 200) & 0x200u) != 0 ? 1 : 0;
}

std::string DevNameFromUevent(std::string_view text) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (line.rfind("DEVNAME=", 0) == 0) return std::string(line.substr(8));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return "";
}

ProbeOutput ProbeBlockDevices(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    constexpr std::string_view kNames[] = {"var_lib", "var_lib_kubelet",
                                           "var_lib_containerd"};
    const MountTableRead* read = nullptr;
    const MountInfo* var_lib = nullptr;
    for (std::string_view name : kNames) {
      const std::string* resolved = ctx.earlier.GetString(Named(kHostPathResolved, name));
      // No mount facts: the path is missing or the storage probe said why.
      if (!resolved || !ctx.earlier.Has(Named(kHostPathSource, name))) continue;
      if (!read) {
        const auto& r = ctx.mounts.Get();
        if (!r) {
          out.AddError(r.error());
          return;
        }
        read = &*r;
      }
      const MountInfo* m = FindMountFor(read->table, *resolved);
      if (m == nullptr) continue;
      if (name == "var_lib") {
        var_lib = m;
      } else if (var_lib && (read->table.has_ids
                                 ? m->major == var_lib->major && m->minor == var_lib->minor
                                 : m->source == var_lib->source)) {
        continue;  // the same device as /var/lib: nothing new to say
      }
      // No block device behind tmpfs, overlay, NFS and the like.
      if ((m->major == 0 || !read->table.has_ids) && m->source.rfind("/dev/", 0) != 0) continue;
      ProbeOne(ctx, name, *m, out);
    }
  });
}

}  // namespace cvm::probe
