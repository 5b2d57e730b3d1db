#include "probe/nvidia_driver.h"

#include <cerrno>
#include <vector>

#include "probe/fact_catalog.h"

namespace cvm::probe {
namespace {

constexpr std::string_view kVersionPath = "/proc/driver/nvidia/version";
constexpr std::string_view kGpusDir = "/proc/driver/nvidia/gpus";
constexpr std::size_t kCap = 16 << 10;

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

bool IsVersion(std::string_view s) {
  if (s.empty() || s.front() < '0' || s.front() > '9' || s.back() == '.') {
    return false;
  }
  bool dot = false;
  for (char c : s) {
    if (c == '.') {
      dot = true;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dot;
}

}  // namespace

Result<NvidiaVersion> ParseNvidiaVersion(std::string_view text) {
  std::string_view line;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (l.substr(0, 13) == "NVRM version:") {
      line = l.substr(13);
      break;
    }
  }
  if (line.empty()) return MakeError("", "no \"NVRM version:\" line");
  auto f = Fields(line);
  // ... [Open] [<arch>] Kernel Module [for <arch>]  <version>  ...
  for (std::size_t i = 0; i + 1 < f.size(); ++i) {
    if (f[i] != "Kernel" || f[i + 1] != "Module") continue;
    std::size_t v = i + 2;
    if (v + 1 < f.size() && f[v] == "for") v += 2;
    if (v >= f.size() || !IsVersion(f[v])) break;
    NvidiaVersion out;
    out.version = std::string(f[v]);
    out.kind = (i > 0 && f[i - 1] == "Open") ? "open" : "proprietary";
    return out;
  }
  return MakeError("", "no version after \"Kernel Module\" in \"NVRM version:" +
                           std::string(line) + "\"");
}

Result<std::string> ParseNvidiaGpuModel(std::string_view text) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (l.substr(0, 6) != "Model:") continue;
    l.remove_prefix(6);
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t' || l.back() == '\r')) {
      l.remove_suffix(1);
    }
    if (l.empty()) break;
    return std::string(l);
  }
  return MakeError("", "no \"Model:\" line");
}

ProbeOutput ProbeNvidiaDriver(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    if (auto text = ctx.root.ReadFile(kVersionPath, kCap)) {
      out.Set(kGpuNvidiaDriverLoaded, true, kVersionPath);
      if (auto v = ParseNvidiaVersion(*text)) {
        out.Set(kGpuNvidiaDriverVersion, v->version, kVersionPath);
        out.Set(kGpuNvidiaDriverKind, v->kind, kVersionPath);
      } else {
        out.AddError(MakeError(std::string(kVersionPath), v.error().message));
      }
    } else if (text.error().code != ENOENT) {
      out.AddError(text.error());
    } else if (auto proc = ctx.root.Stat("/proc"); !proc) {
      // No /proc at all (an image, a bare folder): nothing to say.
      out.AddError(MakeError(std::string(kVersionPath),
                             "no /proc in the root: whether an NVIDIA driver "
                             "is loaded is unknown",
                             ENOENT));
    } else {
      // The root has a /proc and the driver's file is not in it.
      out.Set(kGpuNvidiaDriverLoaded, false,
              std::string(kVersionPath) + " (absent)");
    }

    if (auto gpus = ctx.root.ListDir(kGpusDir)) {
      StringList models;
      for (const auto& entry : *gpus) {
        std::string path = std::string(kGpusDir) + "/" + entry.name + "/information";
        auto info = ctx.root.ReadFile(path, kCap);
        if (!info) {
          out.AddError(info.error());
          continue;
        }
        if (auto model = ParseNvidiaGpuModel(*info)) {
          models.push_back(*model);
        } else {
          out.AddError(MakeError(path, model.error().message));
        }
      }
      out.Set(kGpuNvidiaModels, std::move(models), std::string(kGpusDir));
    } else if (gpus.error().code != ENOENT) {
      out.AddError(gpus.error());
    }

    // Device nodes: Stat only. A root without /dev (an image, a fixture
    // without it) says nothing about them.
    if (ctx.root.Stat("/dev")) {
      bool present = true;
      for (std::string_view node : {"/dev/nvidia0", "/dev/nvidiactl"}) {
        auto st = ctx.root.Stat(node);
        if (!st) {
          if (st.error().code != ENOENT) {
            out.AddError(st.error());
            return;
          }
          present = false;
        } else if (st->type != FileType::kCharDevice) {
          present = false;
        }
      }
      out.Set(kGpuNvidiaDeviceNodes, present, "/dev/nvidia0, /dev/nvidiactl");
    }
  });
}

}  // namespace cvm::probe
