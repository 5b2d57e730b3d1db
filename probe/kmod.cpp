#include "probe/kmod.h"

#include <cerrno>
#include <cstdarg>
#include <optional>

#include "probe/detail/libkmod.h"
#include "probe/fact_catalog.h"

namespace cvm::probe {
namespace {

constexpr std::size_t kProcCap = 1 << 20;
constexpr std::size_t kBuiltinCap = 4 << 20;
// Flatcar (Sysbox-EE) insmods a prebuilt shiftfs from here; it is in no
// index (cvm-requirements.md section 2.4).
constexpr std::string_view kFlatcarShiftfs = "/opt/lib/modules-load.d/shiftfs.ko";

struct Wanted {
  std::string_view name;
  std::string_view alias;      // also looked up in the index, may be empty
  std::string_view extra_file;  // a known out-of-index file, may be empty
};
constexpr Wanted kWanted[] = {
    {"overlay", "fs-overlay", ""},       {"fuse", "fs-fuse", ""},
    {"configfs", "fs-configfs", ""},     {"br_netfilter", "", ""},
    {"nf_tables", "", ""},               {"ip_tables", "", ""},
    {"binfmt_misc", "fs-binfmt_misc", ""}, {"shiftfs", "fs-shiftfs", kFlatcarShiftfs},
};

std::string_view NextLine(std::string_view& text) {
  auto nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  return line;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string FoldDashes(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '-') c = '_';
  }
  return out;
}

void NoLog(void*, int, const char*, int, const char*, const char*, va_list) {}

struct ModuleFile {
  std::string path;    // in-root
  std::string origin;  // in-tree, dkms, insmod, other
  std::string source;  // what said so
};

// libkmod on the root's /lib/modules/<release>, and modules.builtin.
class ModuleIndex {
 public:
  std::string dir;  // "/lib/modules/<release>"
  PinnedDir pinned;
  const detail::LibKmod* kmod = nullptr;  // loaded, as ctx exists
  detail::KmodCtxPtr ctx;
  std::optional<std::set<std::string>> builtin;  // nullopt: unknown

  // nullopt: not in the index; an Error when the index could not be read.
  Result<std::optional<ModuleFile>> Find(const HostRoot& root,
                                         const Wanted& w) const {
    for (std::string_view query : {w.name, w.alias}) {
      if (query.empty()) continue;
      kmod_list* raw = nullptr;
      int r = kmod->kmod_module_new_from_lookup(ctx.get(), std::string(query).c_str(), &raw);
      detail::KmodListPtr list(raw);
      if (r < 0) {
        return MakeError(dir + "/modules.dep.bin",
                         "libkmod lookup of " + std::string(query) + " failed",
                         -r);
      }
      for (kmod_list* it = raw; it != nullptr;
           it = kmod->kmod_list_next(raw, it)) {
        detail::KmodModulePtr mod(kmod->kmod_module_get_module(it));
        const char* p = kmod->kmod_module_get_path(mod.get());
        if (p == nullptr) continue;  // builtin: modules.builtin says so
        std::string_view full = p;
        std::string rel;
        std::string prefix = pinned.path + "/";
        if (full.starts_with(prefix)) {
          rel = std::string(full.substr(prefix.size()));
        } else if (full.starts_with(dir + "/")) {  // old absolute modules.dep
          rel = std::string(full.substr(dir.size() + 1));
        } else {
          return MakeError(dir + "/modules.dep.bin",
                           "index names " + std::string(full) +
                               ", outside the module directory");
        }
        std::string in_root = dir + "/" + rel;
        auto st = root.Stat(in_root);
        if (!st) {
          return MakeError(in_root, "listed in " + dir +
                                        "/modules.dep.bin but unreadable: " +
                                        st.error().message,
                           st.error().code);
        }
        return std::optional<ModuleFile>(ModuleFile{
            in_root, std::string(ModuleOrigin(rel)), dir + "/modules.dep.bin"});
      }
    }
    return std::optional<ModuleFile>();
  }
};

// nullopt (with the error recorded) when there is no usable index.
std::optional<ModuleIndex> OpenIndex(const ProbeContext& ctx, ProbeOutput& out) {
  const std::string* release = ctx.earlier.GetString(kKernelRelease);
  if (release == nullptr) {
    out.AddError(MakeError("/lib/modules",
                           "kernel.release is unknown, so the module index "
                           "cannot be found; builtin/available/absent are "
                           "unknown"));
    return std::nullopt;
  }
  ModuleIndex index;
  index.dir = "/lib/modules/" + *release;
  auto pinned = ctx.root.PinDirectory(index.dir);
  // Whether the running kernel's module directory exists at all: Sysbox
  // bind-mounts it into containers. "No such directory" is an answer;
  // other errors (ELOOP, EACCES) leave the fact out.
  if (pinned) {
    out.Set(kKernelModulesDirPresent, true, index.dir);
  } else if (pinned.error().code == ENOENT || pinned.error().code == ENOTDIR) {
    out.Set(kKernelModulesDirPresent, false, index.dir + " (absent)");
  }
  if (!pinned) {
    Error e = pinned.error();
    e.message += "; no module index for the running kernel, so only "
                 "/proc/modules is used (builtin/available/absent unknown)";
    out.AddError(std::move(e));
    return std::nullopt;
  }
  index.pinned = std::move(*pinned);
  auto dep = ctx.root.Stat(index.dir + "/modules.dep.bin");
  if (!dep) {
    Error e = dep.error();
    e.message += "; depmod has not indexed this module directory";
    out.AddError(std::move(e));
    return std::nullopt;
  }
  auto builtin = ctx.root.ReadFile(index.dir + "/modules.builtin", kBuiltinCap);
  if (builtin) {
    index.builtin = ParseModulesBuiltin(*builtin);
  } else {
    out.AddError(builtin.error());
  }
  // Loaded only now, when there is an index to read (detail/libkmod.h).
  auto kmod = detail::LoadLibKmod();
  if (!kmod) {
    Error e = kmod.error();
    e.path = index.dir;
    e.message += "; builtin/available/absent unknown";
    out.AddError(std::move(e));
    return std::nullopt;
  }
  index.kmod = *kmod;
  // An empty list, not nullptr: libkmod would read the host's own
  // /etc/modprobe.d and /lib/modprobe.d otherwise.
  const char* no_config[] = {nullptr};
  index.ctx.reset(index.kmod->kmod_new(index.pinned.path.c_str(), no_config));
  if (!index.ctx) {
    out.AddError(MakeError(index.dir, "libkmod could not open the index", ENOMEM));
    return std::nullopt;
  }
  index.kmod->kmod_set_log_fn(index.ctx.get(), &NoLog, nullptr);
  return index;
}

struct Loaded {
  std::optional<std::set<std::string>> names;  // nullopt: unknown
  std::string source = "/proc/modules";
};

Loaded ReadLoaded(const ProbeContext& ctx, ProbeOutput& out) {
  Loaded loaded;
  auto text = ctx.root.ReadFile("/proc/modules", kProcCap);
  if (text) {
    loaded.names = ParseProcModules(*text);
  } else if (text.error().code == ENOENT && ctx.root.HasProcfs()) {
    // procfs has /proc/modules whenever the kernel can load modules.
    loaded.names.emplace();
    loaded.source =
        "/proc/modules (absent from a live procfs: kernel without loadable "
        "module support)";
  } else {
    Error e = text.error();
    e.message += "; which modules are loaded is unknown";
    out.AddError(std::move(e));
  }
  return loaded;
}

}  // namespace

std::set<std::string> ParseProcModules(std::string_view text) {
  std::set<std::string> names;
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    std::size_t end = 0;
    while (end < line.size() && !IsSpace(line[end])) ++end;
    if (end > 0) names.insert(std::string(line.substr(0, end)));
  }
  return names;
}

std::set<std::string> ParseProcFilesystems(std::string_view text) {
  std::set<std::string> names;
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    if (line.starts_with("nodev")) line.remove_prefix(5);
    while (!line.empty() && IsSpace(line.front())) line.remove_prefix(1);
    while (!line.empty() && IsSpace(line.back())) line.remove_suffix(1);
    if (!line.empty()) names.insert(std::string(line));
  }
  return names;
}

std::set<std::string> ParseModulesBuiltin(std::string_view text) {
  std::set<std::string> names;
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    while (!line.empty() && IsSpace(line.back())) line.remove_suffix(1);
    auto slash = line.rfind('/');
    if (slash != std::string_view::npos) line.remove_prefix(slash + 1);
    if (!line.ends_with(".ko")) continue;
    line.remove_suffix(3);
    if (!line.empty()) names.insert(FoldDashes(line));
  }
  return names;
}

std::string_view ModuleOrigin(std::string_view rel) {
  if (rel.starts_with("kernel/")) return "in-tree";
  if (rel.starts_with("updates/") || rel.starts_with("extra/")) return "dkms";
  return "other";
}

ProbeOutput ProbeKernelModules(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    std::optional<ModuleIndex> index = OpenIndex(ctx, out);
    Loaded loaded = ReadLoaded(ctx, out);

    for (const Wanted& w : kWanted) {
      std::string name(w.name);
      std::optional<bool> builtin, is_loaded;
      if (index && index->builtin) builtin = index->builtin->contains(name);
      if (loaded.names) is_loaded = loaded.names->contains(name);

      // The module file: nullopt unknown, inner nullopt none.
      std::optional<std::optional<ModuleFile>> file;
      if (index) {
        auto found = index->Find(ctx.root, w);
        if (found) {
          file = *found;
        } else {
          out.AddError(found.error());
        }
      }
      if (!w.extra_file.empty() && !(file && *file)) {
        auto st = ctx.root.Stat(w.extra_file);
        if (st && st->type == FileType::kRegular) {
          file = ModuleFile{std::string(w.extra_file), "insmod",
                            std::string(w.extra_file)};
        } else if (!st && st.error().code != ENOENT) {
          out.AddError(st.error());
        }
      }

      std::optional<std::string> state;
      std::string source;
      if (builtin == true) {
        state = "builtin";
        source = index->dir + "/modules.builtin";
      } else if (is_loaded == true) {
        state = "loaded";
        source = loaded.source;
      } else if (builtin.has_value() && is_loaded.has_value() &&
                 file.has_value()) {
        state = *file ? "available" : "absent";
        source = *file ? (*file)->source
                       : index->dir + "/modules.dep.bin, " + index->dir +
                             "/modules.builtin, " + loaded.source;
      } else if (builtin == false && !is_loaded.has_value() && file && *file) {
        // Without /proc/modules (a folder root) "loaded" is unknown, but
        // the index does resolve a module file: it is at least available.
        state = "available";
        source = (*file)->source;
      } else if (!builtin.has_value() && is_loaded == false && file && *file &&
                 (*file)->origin == "insmod") {
        // An out-of-index file that is not loaded: loadable with insmod.
        state = "available";
        source = (*file)->source;
      }
      if (state) out.Set("kernel.modules." + name, *state, source);

      if (name != "shiftfs") continue;
      if (state) out.Set(kShiftfsState, *state, source);
      if (file && *file) {
        out.Set(kShiftfsPath, (*file)->path, (*file)->source);
        out.Set(kShiftfsOrigin, (*file)->origin, (*file)->source);
      }
    }

    auto fs = ctx.root.ReadFile("/proc/filesystems", kProcCap);
    if (fs) {
      out.Set(kShiftfsRegistered, ParseProcFilesystems(*fs).contains("shiftfs"),
              "/proc/filesystems");
    } else {
      out.AddError(fs.error());
    }
  });
}

}  // namespace cvm::probe
