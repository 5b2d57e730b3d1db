#include "probe/workspace_image.h"

#include <cerrno>

#include "probe/fact_catalog.h"
#include "probe/package_db.h"
#include "probe/rpm_db.h"
#include "probe/runtime.h"

namespace cvm::probe {
namespace {

constexpr std::size_t kStatusCap = 64 << 20;  // as the runtime probe
constexpr std::size_t kStanzaCap = 1 << 20;
constexpr std::string_view kUnitDir = "/etc/systemd/system";

// The Coder docs' example image (coder/docs@e77433ee, cvms/images.md):
// `apt-get install build-essential git bash docker.io curl sudo systemd`.
constexpr std::string_view kBuildEssential[] = {"build-essential", "build-base", "gcc"};
constexpr std::string_view kGit[] = {"git"};
constexpr std::string_view kBash[] = {"bash"};
constexpr std::string_view kDocker[] = {"docker.io", "docker-ce", "moby-engine", "docker",
                                        "docker-engine"};
constexpr std::string_view kCurl[] = {"curl"};
constexpr std::string_view kSudo[] = {"sudo"};
constexpr std::string_view kSystemd[] = {"systemd"};
constexpr DocsPackage kDocsPackages[] = {
    {"build-essential", kBuildEssential}, {"git", kGit},   {"bash", kBash},
    {"docker.io", kDocker},               {"curl", kCurl}, {"sudo", kSudo},
    {"systemd", kSystemd},
};

std::string Basename(std::string_view p) {
  auto s = p.rfind('/');
  return std::string(s == std::string_view::npos ? p : p.substr(s + 1));
}

class ImageProbe {
 public:
  ImageProbe(const ProbeContext& ctx, ProbeOutput& out) : out_(out), root_(ctx.root) {}

  void Run() {
    Init();
    Docker();
    Units();
    Tmp();
    Packages();
  }

 private:
  // ENOENT/ENOTDIR: the path is not there, which has a meaning here.
  static bool Missing(const Error& e) { return e.code == ENOENT || e.code == ENOTDIR; }

  void Init() {
    constexpr std::string_view kInit = "/sbin/init";
    auto target = root_.Resolve(kInit);
    auto st = root_.Stat(kInit);
    if (!st || !target) {
      const Error& e = !st ? st.error() : target.error();
      if (!Missing(e)) return out_.AddError(e);
      // Missing, or a link to nothing: the platform starts no systemd.
      out_.Set(kImageInitPresent, false, kInit);
      out_.Set(kImageInitSystemd, false, kInit);
      return;
    }
    out_.Set(kImageInitPresent, true, kInit);
    out_.Set(kImageInitTarget, *target, kInit);
    bool executable = st->type == FileType::kRegular && (st->mode & 0111) != 0;
    bool systemd = executable && Basename(*target) == "systemd";
    std::string via = *target;
    if (executable && !systemd) {
      // A copy or hard link of systemd under another name is still systemd.
      for (std::string_view s : {"/lib/systemd/systemd", "/usr/lib/systemd/systemd"}) {
        auto other = root_.Stat(s);
        if (other && other->dev == st->dev && other->ino == st->ino) {
          systemd = true;
          via = std::string(s) + " (same file)";
        }
      }
    }
    out_.Set(kImageInitSystemd, systemd, via);
  }

  // The first executable `name` in the binary directories, as the runtime
  // probe searches them.
  std::string FindBinary(std::string_view name) {
    for (std::string_view dir : kRuntimeBinaryDirs) {
      std::string path = std::string(dir) + "/" + std::string(name);
      auto st = root_.Stat(path);
      if (!st) {
        if (!Missing(st.error())) out_.AddError(st.error());
        continue;
      }
      if (st->type == FileType::kRegular && (st->mode & 0111) != 0) return path;
    }
    return "";
  }

  void Docker() {
    std::string daemon = FindBinary("dockerd");
    std::string cli = FindBinary("docker");
    out_.Set(kImageDockerDaemon, !daemon.empty(), "binary directories");
    if (!daemon.empty()) out_.Set(kImageDockerDaemonPath, daemon, daemon);
    out_.Set(kImageDockerCli, !cli.empty(), "binary directories");
    if (!cli.empty()) out_.Set(kImageDockerCliPath, cli, cli);
  }

  // A unit masked in /etc/systemd/system: a link to /dev/null.
  bool Masked(std::string_view unit) {
    std::string path = std::string(kUnitDir) + "/" + std::string(unit);
    auto link = root_.ReadLink(path);
    return link && *link == "/dev/null";
  }

  void Units() {
    auto dirs = root_.ListDir(kUnitDir);
    if (!dirs) {
      if (!Missing(dirs.error())) return out_.AddError(dirs.error());
    }
    bool service = false, socket = false;
    StringList links;
    if (dirs) {
      for (const auto& d : *dirs) {
        if (d.type != FileType::kDirectory || !d.name.ends_with(".wants")) continue;
        for (std::string_view unit : {"docker.service", "docker.socket"}) {
          std::string path = std::string(kUnitDir) + "/" + d.name + "/" + std::string(unit);
          auto lst = root_.Lstat(path);
          if (!lst) {
            if (!Missing(lst.error())) out_.AddError(lst.error());
            continue;
          }
          auto st = root_.Stat(path);
          if (!st || st->type != FileType::kRegular) {
            out_.AddError(MakeError(path, "the link leads to no unit file, so systemd ignores it",
                                    st ? 0 : st.error().code));
            continue;
          }
          links.push_back(path);
          (unit == "docker.service" ? service : socket) = true;
        }
      }
    }
    bool masked_service = Masked("docker.service");
    bool masked_socket = Masked("docker.socket");
    std::string from = std::string(kUnitDir) + "/*.wants";
    out_.Set(kImageDockerServiceEnabled, service && !masked_service, from);
    out_.Set(kImageDockerSocketEnabled, socket && !masked_socket, from);
    out_.Set(kImageDockerMasked, masked_service || masked_socket,
             std::string(kUnitDir) + "/docker.{service,socket}");
    out_.Set(kImageDockerEnabledBy, links, from);
  }

  void Walk(const std::string& dir, int depth) {
    if (count_ >= kTmpMaxCount) return;
    auto entries = root_.ListDir(dir);
    if (!entries) {
      if (!Missing(entries.error())) out_.AddError(entries.error());
      return;
    }
    for (const auto& e : *entries) {
      if (count_ >= kTmpMaxCount) return;
      std::string path = dir + "/" + e.name;
      if (e.type == FileType::kDirectory) {
        if (depth + 1 < kTmpMaxDepth) {
          Walk(path, depth + 1);
        } else {
          deep_ = true;
        }
        continue;
      }
      ++count_;
      if (listed_.size() < kTmpListed) listed_.push_back(path);
    }
  }

  void Tmp() {
    // /tmp itself may be a link (to /var/tmp): its target is walked, the
    // paths shown as under /tmp.
    auto st = root_.Stat("/tmp");
    if (!st) {
      if (!Missing(st.error())) return out_.AddError(st.error());
      out_.Set(kImageTmpCount, std::int64_t{0}, "/tmp (missing)");
      out_.Set(kImageTmpFiles, StringList{}, "/tmp (missing)");
      return;
    }
    if (st->type != FileType::kDirectory) {
      out_.Set(kImageTmpCount, std::int64_t{1}, "/tmp");
      out_.Set(kImageTmpFiles, StringList{"/tmp"}, "/tmp (not a directory)");
      return;
    }
    Walk("/tmp", 0);
    std::string from = "/tmp";
    if (count_ >= kTmpMaxCount) from += " (counting stopped at " + std::to_string(kTmpMaxCount) + ")";
    if (deep_) from += " (directories deeper than " + std::to_string(kTmpMaxDepth) + " not walked)";
    out_.Set(kImageTmpCount, count_, from);
    out_.Set(kImageTmpFiles, listed_, from);
  }

  // The installed names of `wanted` from the first package database the
  // image has; false when it has none (or one could not be read).
  bool Installed(const std::vector<std::string_view>& wanted, std::vector<Package>& found,
                 std::string& db, std::string& file) {
    std::vector<Package>& names = found;
    DpkgStatusReader reader(wanted);
    auto status = root_.ReadPieces("/var/lib/dpkg/status", kStatusCap,
                                   [&reader](std::string_view piece) { reader.Feed(piece); });
    bool dpkg = false;
    if (status) {
      dpkg = true;
      for (auto& p : reader.Finish()) names.push_back(std::move(p));
    } else if (!Missing(status.error())) {
      out_.AddError(status.error());
      return false;
    }
    // Distroless images: one stanza a file, no Status field.
    auto statusd = root_.ListDir("/var/lib/dpkg/status.d");
    if (statusd) {
      for (const auto& e : *statusd) {
        auto text = root_.ReadFile("/var/lib/dpkg/status.d/" + e.name, kStanzaCap);
        if (!text) {
          out_.AddError(text.error());
          continue;
        }
        dpkg = true;
        for (auto& p : ParseDpkgStatus(*text, /*status_optional=*/true)) {
          names.push_back(std::move(p));
        }
      }
    }
    if (dpkg) {
      db = "dpkg";
      file = status ? "/var/lib/dpkg/status" : "/var/lib/dpkg/status.d";
      return true;
    }
    auto rpm = ReadRpmDb(root_, wanted);
    if (rpm) {
      for (auto& p : rpm->packages) names.push_back(std::move(p));
      db = "rpm";
      file = rpm->file;
      return true;
    }
    if (!Missing(rpm.error())) {
      out_.AddError(rpm.error());
      return false;
    }
    auto apk = root_.ReadFile("/lib/apk/db/installed", kStatusCap);
    if (apk) {
      for (auto& p : ParseApkInstalled(*apk)) names.push_back(std::move(p));
      db = "apk";
      file = "/lib/apk/db/installed";
      return true;
    }
    if (!Missing(apk.error())) {
      out_.AddError(apk.error());
      return false;
    }
    out_.AddError(MakeError("/var/lib/dpkg/status",
                            "no package database (dpkg, rpm or apk) in the image, so which "
                            "of the docs' packages are installed is unknown",
                            ENOENT));
    return false;
  }

  void Packages() {
    std::vector<Package> found;
    std::string db, file;
    if (!Installed(DocsPackageNames(), found, db, file)) return;
    std::vector<std::string> names;
    for (const auto& p : found) {
      names.push_back(p.name);
      // The platform the packages are built for: the first that is not
      // architecture-independent (bash always is built per architecture).
      std::string platform = PlatformOfPackageArch(p.arch, db);
      if (!platform.empty() && !out_has_platform_) {
        out_.Set(kImagePlatform, platform, file + " (Architecture of " + p.name + ": " + p.arch + ")");
        out_has_platform_ = true;
      }
    }
    DocsPackageStatus status = CheckDocsPackages(names);
    out_.Set(kImagePackagesDb, db, file);
    out_.Set(kImagePackagesInstalled, status.installed, file);
    out_.Set(kImagePackagesMissing, status.missing, file);
  }

  ProbeOutput& out_;
  const HostRoot& root_;
  std::int64_t count_ = 0;
  bool deep_ = false;
  bool out_has_platform_ = false;
  StringList listed_;
};

}  // namespace

std::span<const DocsPackage> DocsPackages() { return kDocsPackages; }

std::vector<std::string_view> DocsPackageNames() {
  std::vector<std::string_view> out;
  for (const auto& p : kDocsPackages) {
    for (auto n : p.accepts) out.push_back(n);
  }
  return out;
}

std::string PlatformOfPackageArch(std::string_view arch, std::string_view db) {
  // Alpine's armhf is ARMv6 (its armv7 is ARMv7); Debian's armhf is ARMv7.
  if (db == "apk" && arch == "armhf") return "linux/arm/v6";
  struct Arch {
    std::string_view package, platform;
  };
  // dpkg (Debian's architecture names), rpm (uname -m) and apk names, to
  // the OCI image spec's GOOS/GOARCH[/variant].
  static constexpr Arch kArchs[] = {
      {"amd64", "linux/amd64"},     {"x86_64", "linux/amd64"},
      {"arm64", "linux/arm64"},     {"aarch64", "linux/arm64"},
      {"armhf", "linux/arm/v7"},    {"armv7", "linux/arm/v7"},
      {"armv7hl", "linux/arm/v7"},  {"armel", "linux/arm/v5"},
      {"i386", "linux/386"},
      {"i686", "linux/386"},        {"x86", "linux/386"},
      {"ppc64el", "linux/ppc64le"}, {"ppc64le", "linux/ppc64le"},
      {"s390x", "linux/s390x"},     {"riscv64", "linux/riscv64"},
  };
  for (const auto& a : kArchs) {
    if (a.package == arch) return std::string(a.platform);
  }
  return "";  // "all", "noarch", unknown
}

DocsPackageStatus CheckDocsPackages(const std::vector<std::string>& installed_names) {
  DocsPackageStatus out;
  for (const auto& p : kDocsPackages) {
    bool have = false;
    for (auto n : p.accepts) {
      for (const auto& i : installed_names) have = have || i == n;
    }
    (have ? out.installed : out.missing).emplace_back(p.name);
  }
  return out;
}

ProbeOutput ProbeWorkspaceImage(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) { ImageProbe(ctx, out).Run(); });
}

}  // namespace cvm::probe
