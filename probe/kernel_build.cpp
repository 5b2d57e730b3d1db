#include "probe/kernel_build.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "probe/detail/text.h"
#include "probe/fact_catalog.h"

namespace cvm::probe {
namespace {

constexpr std::size_t kConfigGzCap = 1 << 20;   // 1 MiB compressed
constexpr std::size_t kConfigCap = 8 << 20;     // 8 MiB of text
// The options that matter to CVMs (Sysbox, Docker and systemd inside).
constexpr std::string_view kOptions[] = {
    "USER_NS",     "OVERLAY_FS",    "FUSE_FS",   "SECCOMP_FILTER",
    "CGROUPS",     "NAMESPACES",    "UTS_NS",    "IPC_NS",
    "PID_NS",      "NET_NS",        "CGROUP_PIDS", "CGROUP_DEVICE",
    "MEMCG",       "VETH",          "BRIDGE",    "NETFILTER_XT_MATCH_CONNTRACK",
    "BINFMT_MISC", "CONFIGFS_FS",
};

std::string_view NextLine(std::string_view& text) {
  auto nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  return line;
}

void ProbeConfig(const ProbeContext& ctx, const std::string* release,
                 ProbeOutput& out) {
  std::vector<std::string> paths = {"/proc/config.gz"};
  if (release != nullptr) {
    const std::string& r = *release;
    for (std::string p :
         {"/boot/config-" + r, "/usr/src/linux-" + r + "/.config",
          std::string("/usr/src/linux/.config"), "/usr/lib/modules/" + r + "/config",
          "/usr/lib/ostree-boot/config-" + r, "/usr/lib/kernel/config-" + r,
          "/usr/src/linux-headers-" + r + "/.config",
          "/lib/modules/" + r + "/build/.config"}) {
      paths.push_back(std::move(p));
    }
  }
  for (const std::string& path : paths) {
    bool gz = path.ends_with(".gz");
    // Read and parsed in pieces, keeping the options wanted: the text of
    // a config is some 250 KB, whose pages would each fault in.
    KernelConfigReader reader(kOptions);
    auto feed = [&reader](std::string_view piece) { reader.Feed(piece); };
    if (gz) {
      auto data = ctx.root.ReadFile(path, kConfigGzCap);
      if (!data) {
        if (data.error().code == ENOENT) continue;
        out.AddError(data.error());
        return;
      }
      auto inflated = GunzipPieces(*data, kConfigCap, feed);
      if (!inflated) {
        out.AddError(MakeError(path, inflated.error().message));
        return;
      }
    } else {
      auto read = ctx.root.ReadPieces(path, kConfigCap, feed);
      if (!read) {
        if (read.error().code == ENOENT) continue;
        out.AddError(read.error());
        return;
      }
    }
    auto config = reader.Finish();
    if (!reader.any_option()) {
      out.AddError(MakeError(path, "no CONFIG_ lines: not a kernel config"));
      return;
    }
    for (std::string_view option : kOptions) {
      auto it = config.find(std::string(option));
      out.Set("kernel.config." + std::string(option),
              it == config.end() ? std::string("n") : it->second, path);
    }
    return;
  }
  std::string tried;
  for (const auto& p : paths) tried += (tried.empty() ? "" : ", ") + p;
  out.AddError(MakeError(paths.front(),
                         "no kernel config found (tried " + tried + ")", ENOENT));
}

void ProbeHeaders(const ProbeContext& ctx, const std::string& r,
                  ProbeOutput& out) {
  const std::string candidates[] = {"/usr/src/linux-headers-" + r,
                                    "/usr/src/kernels/" + r,
                                    "/lib/modules/" + r + "/build"};
  for (const std::string& path : candidates) {
    auto st = ctx.root.Stat(path);
    if (!st) {
      if (st.error().code == ENOENT) continue;  // also a dangling build link
      out.AddError(st.error());
      return;
    }
    if (st->type != FileType::kDirectory) continue;
    out.Set(kKernelHeadersPresent, true, path);
    out.Set(kKernelHeadersPath, path, path);
    return;
  }
  // A root without /usr/src and /lib/modules (an image, a partial copy)
  // says nothing about headers.
  auto usr_src = ctx.root.Stat("/usr/src");
  auto lib_modules = ctx.root.Stat("/lib/modules");
  if (!usr_src && !lib_modules && usr_src.error().code == ENOENT &&
      lib_modules.error().code == ENOENT) {
    out.AddError(MakeError("/usr/src",
                           "neither /usr/src nor /lib/modules is in the root, "
                           "so whether kernel headers are present is unknown",
                           ENOENT));
    return;
  }
  out.Set(kKernelHeadersPresent, false,
          candidates[0] + ", " + candidates[1] + ", " + candidates[2]);
}

}  // namespace

namespace {

// One line of Kconfig output; calls set(name, value) for an option.
template <typename Set>
void ConfigLine(std::string_view line, Set&& set) {
  constexpr std::string_view kNotSet = " is not set";
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.starts_with("# CONFIG_") && line.ends_with(kNotSet)) {
    std::string_view name = line.substr(9, line.size() - 9 - kNotSet.size());
    if (!name.empty() && name.find(' ') == std::string_view::npos) set(name, "n");
    return;
  }
  if (!line.starts_with("CONFIG_")) return;
  auto eq = line.find('=');
  if (eq == std::string_view::npos || eq == 7) return;
  set(line.substr(7, eq - 7), line.substr(eq + 1));
}

}  // namespace

std::map<std::string, std::string> ParseKernelConfig(std::string_view text) {
  std::map<std::string, std::string> out;
  while (!text.empty()) {
    ConfigLine(NextLine(text), [&](std::string_view name, std::string_view value) {
      // Not `= "n"`: see ErrnoName in probe/host_root.cpp (g++ 12 -O3).
      out.insert_or_assign(std::string(name), std::string(value));
    });
  }
  return out;
}

void KernelConfigReader::Lines(std::string_view text) {
  while (!text.empty()) {
    ConfigLine(NextLine(text), [&](std::string_view name, std::string_view value) {
      any_ = true;
      if (std::find(wanted_.begin(), wanted_.end(), name) == wanted_.end()) return;
      out_.insert_or_assign(std::string(name), std::string(value));
    });
  }
}

void KernelConfigReader::Feed(std::string_view piece) {
  detail::FeedPiece(carry_, piece, "\n", [this](std::string_view lines) { Lines(lines); });
}

std::map<std::string, std::string> KernelConfigReader::Finish() {
  Lines(carry_);
  carry_.clear();
  return std::move(out_);
}

Result<std::size_t> GunzipPieces(std::string_view gz, std::size_t cap,
                                 const std::function<void(std::string_view)>& sink) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return MakeError("", "zlib: inflateInit2 failed");
  }
  std::size_t total = 0;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  char buf[64 * 1024];
  int r = Z_OK;
  while (r != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    r = inflate(&zs, Z_NO_FLUSH);
    if (r != Z_OK && r != Z_STREAM_END) {
      inflateEnd(&zs);
      return MakeError("", r == Z_BUF_ERROR ? "gzip stream is truncated"
                                            : "gzip stream is corrupt");
    }
    std::size_t n = sizeof buf - zs.avail_out;
    if (total + n > cap) {
      inflateEnd(&zs);
      return MakeError("", "inflates to more than " + std::to_string(cap) +
                               " bytes", EFBIG);
    }
    total += n;
    sink(std::string_view(buf, n));
  }
  inflateEnd(&zs);
  return total;
}

Result<std::string> GunzipBounded(std::string_view gz, std::size_t cap) {
  std::string out;
  auto r = GunzipPieces(gz, cap, [&out](std::string_view piece) { out += piece; });
  if (!r) return r.error();
  return out;
}

ProbeOutput ProbeKernelBuild(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    const std::string* release = ctx.earlier.GetString(kKernelRelease);
    ProbeConfig(ctx, release, out);
    if (release == nullptr) {
      out.AddError(MakeError("/usr/src",
                             "kernel.release is unknown, so kernel headers "
                             "cannot be looked for"));
      return;
    }
    ProbeHeaders(ctx, *release, out);
  });
}

}  // namespace cvm::probe
