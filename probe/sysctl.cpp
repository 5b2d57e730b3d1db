#include "probe/sysctl.h"

#include <cerrno>
#include <charconv>
#include <vector>

#include "probe/fact_catalog.h"
#include "probe/detail/text.h"

namespace cvm::probe {
namespace {

using detail::TrimSpace;

constexpr std::size_t kSysctlCap = 256;

struct IntSysctl {
  std::string_view fact;
  std::string_view path;
  // For knobs only some kernels have: the fact saying whether this one
  // does (true; false when a live kernel lacks it; left out when unknown).
  std::string_view present_fact = {};
};
constexpr IntSysctl kInts[] = {
    {kUsernsUnprivilegedClone, "/proc/sys/kernel/unprivileged_userns_clone",
     kUsernsUnprivilegedClonePresent},
    {kUsernsMax, "/proc/sys/user/max_user_namespaces"},
    {kApparmorRestrictUnprivilegedUserns,
     "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
     kApparmorRestrictUnprivilegedUsernsPresent},
    {kSysctlInotifyMaxQueuedEvents, "/proc/sys/fs/inotify/max_queued_events"},
    {kSysctlInotifyMaxUserWatches, "/proc/sys/fs/inotify/max_user_watches"},
    {kSysctlInotifyMaxUserInstances, "/proc/sys/fs/inotify/max_user_instances"},
    {kSysctlKeysMaxkeys, "/proc/sys/kernel/keys/maxkeys"},
    {kSysctlKeysMaxbytes, "/proc/sys/kernel/keys/maxbytes"},
    {kSysctlPidMax, "/proc/sys/kernel/pid_max"},
    {kSysctlMaxMapCount, "/proc/sys/vm/max_map_count"},
};

void ProbeApparmor(const ProbeContext& ctx, ProbeOutput& out) {
  constexpr std::string_view kEnabled = "/sys/module/apparmor/parameters/enabled";
  if (SetFromFile(ctx.root, kEnabled, kSysctlCap, kApparmorEnabled, ParseKernelBool, out)) {
    return;
  }
  // The apparmor module directory exists whenever AppArmor is built in;
  // without it, AppArmor is not in this kernel.
  auto module_dir = ctx.root.Stat("/sys/module/apparmor");
  auto sys_module = ctx.root.Stat("/sys/module");
  if (!module_dir && module_dir.error().code == ENOENT && sys_module &&
      sys_module->type == FileType::kDirectory) {
    out.Set(kApparmorEnabled, false,
            "/sys/module/apparmor (absent under /sys/module)");
    return;
  }
  out.AddError(module_dir ? ErrnoError(ENOENT, std::string(kEnabled))
                          : MakeError("/sys/module",
                                      "no /sys/module in the root, so whether "
                                      "AppArmor is enabled is unknown",
                                      sys_module ? ENOTDIR
                                                 : sys_module.error().code));
}

}  // namespace

Result<std::int64_t> ParseSysctlInt(std::string_view text) {
  std::string_view s = TrimSpace(text);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    return MakeError("", "expected one integer, found \"" + std::string(s) + "\"");
  }
  return v;
}

Result<bool> ParseKernelBool(std::string_view text) {
  std::string_view s = TrimSpace(text);
  if (s == "Y" || s == "1") return true;
  if (s == "N" || s == "0") return false;
  return MakeError("", "expected Y or N, found \"" + std::string(s) + "\"");
}

ProbeOutput ProbeSysctl(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    bool live = ctx.root.HasProcfs();
    // A folder root with none of these files (most fixtures, images) holds
    // no sysctl values: one error, not ten.
    std::vector<Error> missing;
    bool any_file = false;
    for (const IntSysctl& s : kInts) {
      auto text = ctx.root.ReadFile(s.path, kSysctlCap);
      bool optional = !s.present_fact.empty();
      if (!text) {
        // Absent on a live kernel: the kernel does not have this knob.
        if (optional && live && text.error().code == ENOENT) {
          out.Set(s.present_fact, false, std::string(s.path) + " (absent on a live kernel)");
          continue;
        }
        if (text.error().code == ENOENT) {
          missing.push_back(text.error());
        } else {
          any_file = true;
          out.AddError(text.error());
        }
        continue;
      }
      any_file = true;
      if (optional) out.Set(s.present_fact, true, s.path);
      auto v = ParseSysctlInt(*text);
      if (!v) {
        out.AddError(MakeError(std::string(s.path), v.error().message));
        continue;
      }
      out.Set(s.fact, *v, s.path);
    }
    if (any_file) {
      for (auto& e : missing) out.AddError(std::move(e));
    } else {
      out.AddError(MakeError("/proc/sys",
                             "none of the sysctl files is in the root, so the "
                             "sysctl values are unknown",
                             ENOENT));
    }
    ProbeApparmor(ctx, out);
  });
}

}  // namespace cvm::probe
