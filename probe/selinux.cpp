#include "probe/selinux.h"

#include <cerrno>

#include "probe/env_file.h"
#include "probe/fact_catalog.h"

namespace cvm::probe {
namespace {

constexpr std::size_t kSmallCap = 64 * 1024;

void ProbeMode(const ProbeContext& ctx, ProbeOutput& out) {
  for (std::string_view path : {"/sys/fs/selinux/enforce", "/selinux/enforce"}) {
    auto text = ctx.root.ReadFile(path, 64);
    if (!text) {
      if (text.error().code == ENOENT) continue;
      out.AddError(text.error());
      return;
    }
    std::string_view v = *text;
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
    if (v == "1") {
      out.Set(kSelinuxMode, std::string("enforcing"), path);
    } else if (v == "0") {
      out.Set(kSelinuxMode, std::string("permissive"), path);
    } else {
      out.AddError(MakeError(std::string(path),
                             "expected 0 or 1, found \"" + std::string(v) + "\""));
    }
    return;
  }
  // Absence of selinuxfs means something only where a sysfs is there.
  auto sysfs = ctx.root.Stat("/sys/fs");
  if (sysfs && sysfs->type == FileType::kDirectory) {
    out.Set(kSelinuxMode, std::string("disabled"),
            "/sys/fs/selinux/enforce (absent under /sys/fs)");
    return;
  }
  out.AddError(MakeError("/sys/fs",
                         "no sysfs in the root, so the SELinux mode is unknown",
                         sysfs ? ENOTDIR : sysfs.error().code));
}

void ProbeConfig(const ProbeContext& ctx, ProbeOutput& out) {
  constexpr std::string_view kConfig = "/etc/selinux/config";
  auto text = ctx.root.ReadFile(kConfig, kSmallCap);
  if (!text) {
    // No config file (Ubuntu, Debian, images) is a known state: nothing will
    // turn SELinux on at boot. Any other failure leaves the facts out.
    if (text.error().code == ENOENT) {
      out.Set(kSelinuxConfigMode, std::string("none"), "/etc/selinux/config (absent)");
    } else {
      out.AddError(text.error());
    }
    return;
  }
  EnvFile env = ParseEnvFile(*text);
  for (const auto& w : env.warnings) {
    out.AddError(MakeError(std::string(kConfig), w));
  }
  if (const auto* mode = env.Get("SELINUX")) {
    out.Set(kSelinuxConfigMode, *mode, kConfig);
  }
  if (const auto* type = env.Get("SELINUXTYPE")) {
    out.Set(kSelinuxConfigType, *type, kConfig);
  }
}

}  // namespace

ProbeOutput ProbeSelinux(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    ProbeMode(ctx, out);
    ProbeConfig(ctx, out);
  });
}

}  // namespace cvm::probe
