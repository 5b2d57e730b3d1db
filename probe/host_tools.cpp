#include "probe/host_tools.h"

#include <cerrno>
#include <string>

#include "probe/fact_catalog.h"

namespace cvm::probe {
namespace {

constexpr std::string_view kBinDirs[] = {"/usr/sbin", "/usr/bin", "/sbin",
                                         "/bin", "/usr/local/sbin",
                                         "/usr/local/bin"};
constexpr std::string_view kTools[] = {"rsync", "modprobe", "iptables",
                                       "fusermount", "fusermount3"};

}  // namespace

ProbeOutput ProbeHostTools(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    bool any_dir = false;
    for (std::string_view dir : kBinDirs) {
      auto st = ctx.root.Stat(dir);
      if (st || st.error().code != ENOENT) any_dir = true;
    }
    if (!any_dir) {
      out.AddError(MakeError("/usr/bin",
                             "none of /usr/sbin, /usr/bin, /sbin, /bin, "
                             "/usr/local/sbin, /usr/local/bin is in the root, "
                             "so host tools are unknown",
                             ENOENT));
      return;
    }
    for (std::string_view tool : kTools) {
      std::string found;
      bool failed = false;
      for (std::string_view dir : kBinDirs) {
        std::string path = std::string(dir) + "/" + std::string(tool);
        auto st = ctx.root.Stat(path);
        if (!st) {
          // ENOENT and ENOTDIR (a dir that is a file) mean "not here".
          if (st.error().code != ENOENT && st.error().code != ENOTDIR) {
            out.AddError(st.error());
            failed = true;
          }
          continue;
        }
        if (st->type == FileType::kRegular && (st->mode & 0111) != 0) {
          found = path;
          break;
        }
      }
      std::string fact = "host.tools." + std::string(tool);
      if (!found.empty()) {
        out.Set(fact, true, found);
      } else if (!failed) {
        out.Set(fact, false,
                "/usr/sbin, /usr/bin, /sbin, /bin, /usr/local/sbin, "
                "/usr/local/bin");
      }
    }
  });
}

}  // namespace cvm::probe
