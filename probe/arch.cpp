#include "probe/arch.h"

#include <sys/utsname.h>

#include <cerrno>

#include "probe/fact_catalog.h"

namespace cvm::probe {

std::string ArchFromRelease(std::string_view release) {
  struct Suffix {
    std::string_view suffix;
    std::string_view arch;
  };
  // Red Hat style ".<uname -m>" and Debian style "-<dpkg arch>" flavors.
  static constexpr Suffix kSuffixes[] = {
      {".x86_64", "x86_64"},   {"-amd64", "x86_64"},   {".aarch64", "aarch64"},
      {"-arm64", "aarch64"},   {".ppc64le", "ppc64le"}, {"-ppc64el", "ppc64le"},
      {".s390x", "s390x"},     {"-s390x", "s390x"},     {".i686", "i686"},
      {"-686", "i686"},        {"-686-pae", "i686"},    {"-armmp", "armv7l"},
  };
  for (const auto& s : kSuffixes) {
    if (release.size() > s.suffix.size() &&
        release.substr(release.size() - s.suffix.size()) == s.suffix) {
      return std::string(s.arch);
    }
  }
  return {};
}

ProbeOutput ProbeArchitecture(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    constexpr std::string_view kArch = "/proc/sys/kernel/arch";
    auto text = ctx.root.ReadFile(kArch, 256);
    if (text) {
      std::string v = *text;
      while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
      if (!v.empty()) {
        out.Set(kKernelArch, v, kArch);
        return;
      }
    } else if (text.error().code != ENOENT) {
      out.AddError(text.error());
      return;
    }
    if (ctx.root.HasProcfs()) {
      struct utsname u;
      if (::uname(&u) == 0) {
        out.Set(kKernelArch, std::string(u.machine), "uname(2)");
        return;
      }
    }
    if (const std::string* rel = ctx.earlier.GetString(kKernelRelease)) {
      std::string arch = ArchFromRelease(*rel);
      if (!arch.empty()) {
        out.Set(kKernelArch, arch, "kernel.release suffix");
        return;
      }
    }
    out.AddError(MakeError(std::string(kArch),
                           "no /proc/sys/kernel/arch, no live procfs and no "
                           "architecture in the kernel release: the "
                           "architecture is unknown",
                           ENOENT));
  });
}

}  // namespace cvm::probe
