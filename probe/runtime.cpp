#include "probe/runtime.h"

#include <cerrno>
#include <map>
#include <optional>

#include "probe/exec_version.h"
#include "probe/fact_catalog.h"
#include "probe/go_buildinfo.h"
#include "probe/package_db.h"
#include "probe/rpm_db.h"
#include "probe/runtime_config.h"
#include "probe/runtime_version.h"

namespace cvm::probe {
namespace {

constexpr std::size_t kStatusCap = 64 << 20;  // dpkg status of a big host
constexpr std::size_t kConfigCap = 1 << 20;
constexpr int kMaxConfigFiles = 64;

// Binary name -> the fact family it feeds ("" = listed only).
struct Tool {
  std::string_view binary;
  std::string_view key;
};
constexpr Tool kTools[] = {
    {"containerd", "containerd"}, {"runc", "runc"},
    {"crun", "crun"},             {"crio", "crio"},
    {"dockerd", "docker"},        {"sysbox-runc", "sysbox"},
    {"sysbox-mgr", ""},           {"sysbox-fs", ""},
    {"nvidia-container-runtime", "nvidia_toolkit"},
    {"nvidia-ctk", "nvidia_toolkit"},
};

// Packages whose file lists are read to find a binary's owner.
constexpr std::string_view kOwnerPackages[] = {
    "containerd.io", "containerd", "runc", "docker-ce", "docker.io",
    "moby-engine", "moby-containerd", "moby-runc", "cri-o", "crun",
    "sysbox-ce", "sysbox-ee", "nvidia-container-toolkit",
    "nvidia-container-toolkit-base", "nvidia-container-runtime",
};

std::string Basename(std::string_view p) {
  auto s = p.rfind('/');
  return std::string(s == std::string_view::npos ? p : p.substr(s + 1));
}

struct Found {
  std::string binary;
  std::string path;       // in-root, as found
  std::string canonical;  // resolved in the root
};

struct Owner {
  std::string package, version, db;  // db: dpkg | apk | rpm
  std::string db_file;               // in-root, for the facts' `from`
};

class RuntimeProbe {
 public:
  RuntimeProbe(const ProbeContext& ctx, ProbeOutput& out) : ctx_(ctx), out_(out) {}

  void Run() {
    bool any_dir = false;
    for (std::string_view dir : kRuntimeBinaryDirs) {
      auto st = ctx_.root.Stat(dir);
      any_dir = any_dir || (st && st->type == FileType::kDirectory);
    }
    FindInDirs();
    FindInProcesses();
    if (!any_dir && found_.empty()) {
      // An empty folder or a partial fixture, not a host with no runtime.
      out_.AddError(MakeError("/usr/bin",
                              "none of the binary directories (/usr/bin, /usr/sbin, "
                              "/usr/local/bin, ...) exists in the root, so which "
                              "runtimes are installed is unknown",
                              ENOENT));
      Handlers();
      return;
    }
    StringList paths;
    for (const auto& f : found_) paths.push_back(f.path);
    out_.Set(kRuntimeBinaries, paths, "binary directories and /proc/*/exe");
    LoadPackages();
    bool sysbox = false;
    bool nvidia_done = false;
    for (const auto& f : found_) {
      std::string_view key;
      for (const auto& t : kTools) {
        if (t.binary == f.binary) key = t.key;
      }
      if (key.empty()) continue;
      if (key == "sysbox") sysbox = true;
      if (key == "nvidia_toolkit") {
        if (nvidia_done) continue;
        nvidia_done = true;
      }
      Describe(f, key);
    }
    out_.Set(kRuntimeSysboxInstalled, sysbox,
             sysbox ? "sysbox-runc found" : "no sysbox-runc in the directories searched");
    for (std::string_view key : {"containerd", "crio"}) FromNodeInfo(key);
    Handlers();
  }

 private:
  std::string Fact(std::string_view key, std::string_view leaf) const {
    return "runtime." + std::string(key) + "." + std::string(leaf);
  }

  bool Have(std::string_view binary) const {
    for (const auto& f : found_) {
      if (f.binary == binary) return true;
    }
    return false;
  }

  void Add(std::string binary, std::string path) {
    auto canon = ctx_.root.Resolve(path);
    found_.push_back({std::move(binary), path, canon ? *canon : path});
  }

  void FindInDirs() {
    for (const auto& t : kTools) {
      for (std::string_view dir : kRuntimeBinaryDirs) {
        std::string path = std::string(dir) + "/" + std::string(t.binary);
        auto st = ctx_.root.Stat(path);
        if (!st) {
          int e = st.error().code;
          if (e != ENOENT && e != ENOTDIR) out_.AddError(st.error());
          continue;
        }
        if (st->type != FileType::kRegular || (st->mode & 0111) == 0) continue;
        Add(std::string(t.binary), path);
        break;
      }
    }
  }

  void FindInProcesses() {
    if (!ctx_.root.HasProcfs()) return;
    auto entries = ctx_.root.ListDir("/proc");
    if (!entries) return out_.AddError(entries.error());
    int scanned = 0;
    for (const auto& e : *entries) {
      if (e.name.empty() || e.name.find_first_not_of("0123456789") != std::string::npos) continue;
      if (++scanned > kMaxPids) break;
      auto target = ctx_.root.ReadLink("/proc/" + e.name + "/exe");
      if (!target) continue;  // kernel threads, exited, EACCES: nothing to say
      std::string t = *target;
      constexpr std::string_view kDeleted = " (deleted)";
      if (t.size() > kDeleted.size() &&
          t.compare(t.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
        continue;  // the file is gone; nothing to read
      }
      std::string name = Basename(t);
      bool ours = false;
      for (const auto& tool : kTools) ours = ours || tool.binary == name;
      if (!ours || Have(name) || t.empty() || t.front() != '/') continue;
      auto st = ctx_.root.Stat(t);
      if (st && st->type == FileType::kRegular) Add(name, t);
    }
  }

  void LoadPackages() {
    // Read in pieces, keeping the owner packages only: a node's status
    // file is a megabyte, read once.
    const std::vector<std::string_view> wanted(std::begin(kOwnerPackages),
                                               std::end(kOwnerPackages));
    DpkgStatusReader reader(wanted);
    auto status = ctx_.root.ReadPieces("/var/lib/dpkg/status", kStatusCap,
                                       [&reader](std::string_view piece) { reader.Feed(piece); });
    std::vector<Package> dpkg;
    if (status) {
      dpkg = reader.Finish();
    } else if (status.error().code != ENOENT) {
      out_.AddError(status.error());
    }
    auto statusd = ctx_.root.ListDir("/var/lib/dpkg/status.d");
    if (statusd) {
      for (const auto& e : *statusd) {
        auto text = ctx_.root.ReadFile("/var/lib/dpkg/status.d/" + e.name, kConfigCap);
        if (!text) continue;
        for (auto& p : ParseDpkgStatus(*text, /*status_optional=*/true)) dpkg.push_back(std::move(p));
      }
    }
    for (const auto& p : dpkg) {
      bool wanted = false;
      for (auto name : kOwnerPackages) wanted = wanted || p.name == name;
      if (!wanted) continue;
      for (std::string list : {"/var/lib/dpkg/info/" + p.name + ".list",
                               "/var/lib/dpkg/info/" + p.name + ":" + p.arch + ".list"}) {
        auto text = ctx_.root.ReadFile(list, kConfigCap);
        if (!text) {
          if (text.error().code != ENOENT) out_.AddError(text.error());
          continue;
        }
        for (const auto& path : ParseDpkgList(*text)) {
          AddOwned(path, {p.name, p.version, "dpkg", "/var/lib/dpkg/status"});
        }
        break;
      }
    }
    auto apk = ctx_.root.ReadFile("/lib/apk/db/installed", kStatusCap);
    if (apk) {
      for (const auto& p : ParseApkInstalled(*apk)) {
        for (const auto& path : p.files) {
          AddOwned(path, {p.name, p.version, "apk", "/lib/apk/db/installed"});
        }
      }
    } else if (apk.error().code != ENOENT) {
      out_.AddError(apk.error());
    }
    auto rpm = ReadRpmDb(ctx_.root, kOwnerPackages);
    if (rpm) {
      for (const auto& p : rpm->packages) {
        for (const auto& path : p.files) AddOwned(path, {p.name, p.version, "rpm", rpm->file});
      }
    } else if (rpm.error().code != ENOENT) {
      out_.AddError(rpm.error());
    }
  }

  void AddOwned(const std::string& path, const Owner& owner) {
    std::string base = Basename(path);
    for (const auto& f : found_) {
      if (f.binary != base) continue;
      auto canon = ctx_.root.Resolve(path);
      if (canon && *canon == f.canonical) owned_.emplace(f.canonical, owner);
    }
  }

  void Describe(const Found& f, std::string_view key) {
    const bool detailed = key == "containerd" || key == "runc";
    out_.Set(Fact(key, "path"), f.path, f.canonical);
    std::string version, source, where, commit;
    auto own = owned_.find(f.canonical);
    if (own != owned_.end()) {
      const Owner& o = own->second;
      const std::string& db_file = o.db_file;
      if (detailed) {
        out_.Set(Fact(key, "package"), o.package, db_file);
        out_.Set(Fact(key, "package_version"), o.version, db_file);
      }
      if (key == "runc" && o.package == "containerd.io") {
        if (auto row = RuncOfContainerdIo(BuiltinContainerdIoRuncTable(), o.version)) {
          version = row->runc;
          source = o.db;
          where = "probe/data/containerd-io-runc.tsv: " + row->source;
        } else {
          out_.AddError(MakeError(f.path, "containerd.io " + o.version +
                                              " is not in the containerd.io-to-runc table; "
                                              "runc's version is read from the binary instead"));
        }
      } else {
        version = UpstreamVersion(o.version);
        // Nestybox's sysbox-ce/-ee packages are versioned "0.6.1.linux"
        // (and "0.5.0-0.linux"): the Sysbox release is the part before it.
        if (key == "sysbox" && version.ends_with(".linux")) {
          version.resize(version.size() - 6);
        }
        source = o.db;
        where = db_file;
      }
    }
    if (version.empty()) FromBuildInfo(f, version, source, where, commit);
    if (version.empty() && ctx_.options.exec_versions) FromExec(f, key, version, source, where, commit);
    if (!commit.empty() && key == "runc") out_.Set(kRuntimeRuncCommit, commit, where);
    if (version.empty()) {
      if (!((key == "containerd" || key == "crio") && ctx_.node != nullptr &&
            !ctx_.node->container_runtime_version.empty())) {
        out_.AddError(MakeError(
            f.path, "no version found: no package owns it, its Go build info carries none" +
                        std::string(ctx_.options.exec_versions ? "" : ", and --exec-versions is off")));
      }
      return;
    }
    out_.Set(Fact(key, "version"), version, where);
    if (detailed) out_.Set(Fact(key, "source"), source, where);
    versioned_.push_back(std::string(key));
  }

  void FromBuildInfo(const Found& f, std::string& version, std::string& source,
                     std::string& where, std::string& commit) {
    const HostRoot& root = ctx_.root;
    std::string path = f.canonical;
    auto info = ReadGoBuildInfo([&](std::uint64_t off, std::size_t len) {
      return root.ReadRange(path, off, len);
    });
    if (!info) return;  // not a Go program (crun): other sources follow
    version = StripV(GoStampedVersion(*info));
    if (version.empty()) return;
    source = "go-buildinfo";
    where = f.canonical + " (.go.buildinfo, " + info->go_version + ")";
    commit = LdflagsVariable(*info, "main.gitCommit");
  }

  void FromExec(const Found& f, std::string_view key, std::string& version,
                std::string& source, std::string& where, std::string& commit) {
    if (ctx_.root.path() != "/" && !ctx_.root.HasProcfs()) {
      out_.AddError(MakeError(f.path,
                              "--exec-versions refused: the root " + ctx_.root.path() +
                                  " is not a live system, and running its binaries would run "
                                  "foreign code"));
      return;
    }
    std::string host = ctx_.root.path() == "/" ? f.canonical : ctx_.root.path() + f.canonical;
    auto text = RunVersionCommand(host);
    if (!text) return out_.AddError(text.error());
    where = f.canonical + " --version";
    if (key == "runc") {
      auto v = ParseRuncVersion(*text);
      if (!v) return out_.AddError(MakeError(f.path, v.error().message));
      version = v->version;
      commit = v->commit;
    } else if (key == "containerd") {
      auto v = ParseContainerdVersion(*text);
      if (!v) return out_.AddError(MakeError(f.path, v.error().message));
      version = v->version;
    } else {
      auto v = ParseToolVersion(*text);
      if (!v) return out_.AddError(MakeError(f.path, v.error().message));
      version = *v;
    }
    source = "exec";
  }

  void FromNodeInfo(std::string_view key) {
    if (ctx_.node == nullptr) return;
    for (const auto& k : versioned_) {
      if (k == key) return;
    }
    std::string_view v = ctx_.node->container_runtime_version;
    std::string prefix = key == "crio" ? "cri-o://" : "containerd://";
    if (v.substr(0, prefix.size()) != prefix) return;
    std::string version = StripV(v.substr(prefix.size()));
    out_.Set(Fact(key, "version"), version, "node.status.nodeInfo.containerRuntimeVersion");
    if (key == "containerd") {
      out_.Set(kRuntimeContainerdSource, std::string("node-info"),
               "node.status.nodeInfo.containerRuntimeVersion");
    }
  }

  // Reads one containerd config and the files it imports.
  void ContainerdConfigFile(const std::string& path, int depth) {
    if (depth > 4 || files_read_ >= kMaxConfigFiles) return;
    auto text = ctx_.root.ReadFile(path, kConfigCap);
    if (!text) {
      if (text.error().code != ENOENT) out_.AddError(text.error());
      return;
    }
    ++files_read_;
    handler_files_.push_back(path);
    auto cfg = ParseContainerdConfig(*text);
    if (!cfg) return out_.AddError(MakeError(path, cfg.error().message));
    AddHandlers(cfg->handlers);
    std::string dir = path.substr(0, path.rfind('/'));
    for (std::string imp : cfg->imports) {
      if (imp.empty()) continue;
      if (imp.front() != '/') imp = dir + "/" + imp;
      auto slash = imp.rfind('/');
      std::string idir = imp.substr(0, slash), pattern = imp.substr(slash + 1);
      auto star = pattern.find('*');
      if (star == std::string::npos) {
        ContainerdConfigFile(imp, depth + 1);
        continue;
      }
      auto entries = ctx_.root.ListDir(idir);
      if (!entries) continue;
      std::string pre = pattern.substr(0, star), post = pattern.substr(star + 1);
      for (const auto& e : *entries) {
        if (e.name.size() >= pre.size() + post.size() && e.name.rfind(pre, 0) == 0 &&
            e.name.compare(e.name.size() - post.size(), post.size(), post) == 0) {
          ContainerdConfigFile(idir + "/" + e.name, depth + 1);
        }
      }
    }
  }

  void AddHandlers(const std::vector<std::string>& names) {
    for (const auto& n : names) {
      bool seen = false;
      for (const auto& h : handlers_) seen = seen || h == n;
      if (!seen) handlers_.push_back(n);
    }
  }

  void CrioFile(const std::string& path) {
    auto text = ctx_.root.ReadFile(path, kConfigCap);
    if (!text) {
      if (text.error().code != ENOENT) out_.AddError(text.error());
      return;
    }
    handler_files_.push_back(path);
    auto names = ParseCrioRuntimes(*text);
    if (!names) return out_.AddError(MakeError(path, names.error().message));
    AddHandlers(*names);
  }

  void Handlers() {
    for (std::string path : {"/etc/containerd/config.toml",
                             "/var/lib/rancher/k3s/agent/etc/containerd/config.toml",
                             "/var/lib/rancher/rke2/agent/etc/containerd/config.toml"}) {
      ContainerdConfigFile(path, 0);
    }
    CrioFile("/etc/crio/crio.conf");
    auto dropins = ctx_.root.ListDir("/etc/crio/crio.conf.d");
    if (dropins) {
      for (const auto& e : *dropins) {
        if (e.name.size() > 5 && e.name.compare(e.name.size() - 5, 5, ".conf") == 0) {
          CrioFile("/etc/crio/crio.conf.d/" + e.name);
        }
      }
    }
    if (handler_files_.empty()) return;
    std::string from;
    for (const auto& f : handler_files_) from += (from.empty() ? "" : ", ") + f;
    out_.Set(kRuntimeHandlers, handlers_, from);
  }

  const ProbeContext& ctx_;
  ProbeOutput& out_;
  std::vector<Found> found_;
  std::map<std::string, Owner> owned_;
  std::vector<std::string> versioned_;
  StringList handlers_;
  std::vector<std::string> handler_files_;
  int files_read_ = 0;
};

}  // namespace

ProbeOutput ProbeRuntime(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) { RuntimeProbe(ctx, out).Run(); });
}

}  // namespace cvm::probe
