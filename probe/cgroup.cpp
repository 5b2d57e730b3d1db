#include "probe/cgroup.h"

#include <algorithm>
#include <cerrno>

#include "probe/fact_catalog.h"

namespace cvm::probe {
namespace {

// cgroup v1 controllers as the kernel names them (Documentation/
// admin-guide/cgroup-v1); mount options that are not controllers
// ("rw", "name=systemd", "xattr", "noprefix") are left out.
constexpr std::string_view kV1Controllers[] = {
    "blkio", "cpu",       "cpuacct", "cpuset",  "devices", "freezer",
    "hugetlb", "memory",  "misc",    "net_cls", "net_prio", "perf_event",
    "pids",  "rdma",
};

bool IsV1Controller(std::string_view s) {
  return std::find(std::begin(kV1Controllers), std::end(kV1Controllers), s) !=
         std::end(kV1Controllers);
}

void AddSplit(StringList& out, std::string_view s, char sep, bool only_v1) {
  std::size_t i = 0;
  while (i <= s.size()) {
    std::size_t j = s.find(sep, i);
    if (j == std::string_view::npos) j = s.size();
    std::string_view part = s.substr(i, j - i);
    while (!part.empty() && (part.back() == '\n' || part.back() == ' ')) {
      part.remove_suffix(1);
    }
    if (!part.empty() && (!only_v1 || IsV1Controller(part))) {
      out.emplace_back(part);
    }
    i = j + 1;
  }
}

void SortUnique(StringList& list) {
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
}

// Reads the v2 controllers; returns false (with the error) on failure.
bool AddV2Controllers(const ProbeContext& ctx, const std::string& mount,
                      StringList& out, ProbeOutput& err) {
  std::string path = (mount == "/" ? "" : mount) + "/cgroup.controllers";
  auto text = ctx.root.ReadFile(path, 4096);
  if (!text) {
    err.AddError(text.error());
    return false;
  }
  std::string flat = *text;
  std::replace(flat.begin(), flat.end(), '\n', ' ');
  AddSplit(out, flat, ' ', false);
  return true;
}

// Without a mount table: /sys/fs/cgroup as systemd lays it out.
void FromLayout(const ProbeContext& ctx, ProbeOutput& out) {
  constexpr std::string_view kDir = "/sys/fs/cgroup";
  std::string source = std::string(kDir) + " (layout)";
  auto v2 = ctx.root.Stat("/sys/fs/cgroup/cgroup.controllers");
  if (v2 && v2->type == FileType::kRegular) {
    StringList controllers;
    if (AddV2Controllers(ctx, std::string(kDir), controllers, out)) {
      SortUnique(controllers);
      out.Set(kCgroupControllers, controllers, "/sys/fs/cgroup/cgroup.controllers");
    }
    out.Set(kCgroupVersion, std::string("v2"), source);
    return;
  }
  auto entries = ctx.root.ListDir(kDir);
  if (!entries) {
    out.AddError(MakeError(std::string(kDir),
                           "no mount table and no readable /sys/fs/cgroup (" +
                               ErrnoName(entries.error().code) +
                               "): the cgroup version is unknown",
                           entries.error().code));
    return;
  }
  StringList controllers;
  bool unified = false;
  for (const auto& e : *entries) {
    if (e.type != FileType::kDirectory) continue;
    if (e.name == "unified") unified = true;
    AddSplit(controllers, e.name, ',', true);
  }
  if (controllers.empty()) {
    out.AddError(MakeError(std::string(kDir),
                           "no cgroup hierarchy found: the cgroup version is "
                           "unknown"));
    return;
  }
  SortUnique(controllers);
  out.Set(kCgroupVersion, std::string(unified ? "hybrid" : "v1"), source);
  out.Set(kCgroupControllers, controllers, source);
}

}  // namespace

CgroupLayout CgroupLayoutFromMounts(const MountTable& table) {
  CgroupLayout layout;
  bool v1 = false, v2 = false;
  for (const auto& m : table.mounts) {
    if (m.fstype == "cgroup") {
      v1 = true;
      AddSplit(layout.controllers, m.super_options, ',', true);
    } else if (m.fstype == "cgroup2") {
      // The host hierarchy, not a container's view of it, wins.
      if (!v2 || m.mount_point == "/sys/fs/cgroup") layout.v2_mount = m.mount_point;
      v2 = true;
    }
  }
  if (v1 && v2) layout.version = "hybrid";
  else if (v1) layout.version = "v1";
  else if (v2) layout.version = "v2";
  SortUnique(layout.controllers);
  return layout;
}

ProbeOutput ProbeCgroup(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    const auto& read = ctx.mounts.Get();
    if (!read) {
      if (read.error().code == ENOENT) {
        FromLayout(ctx, out);
      } else {
        out.AddError(read.error());
      }
      return;
    }
    const MountTable& table = read->table;
    const std::string& source = read->source;
    for (const auto& w : table.warnings) out.AddError(MakeError(source, w));
    CgroupLayout layout = CgroupLayoutFromMounts(table);
    if (layout.version.empty()) {
      out.AddError(MakeError(source, "no cgroup or cgroup2 mount listed"));
      return;
    }
    out.Set(kCgroupVersion, layout.version, source);
    StringList controllers = layout.controllers;
    std::string controllers_source = source;
    if (!layout.v2_mount.empty() && layout.version == "v2") {
      if (!AddV2Controllers(ctx, layout.v2_mount, controllers, out)) return;
      controllers_source = layout.v2_mount + "/cgroup.controllers";
    }
    SortUnique(controllers);
    out.Set(kCgroupControllers, controllers, controllers_source);
  });
}

}  // namespace cvm::probe
