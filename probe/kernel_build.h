#pragma once
// How the running kernel was built (its config) and whether its headers
// are on the host (Coder's shiftfs auto-install and sysbox-mgr use them).
// Reads: the first existing of /proc/config.gz (gzip, inflated with a
//        cap), /boot/config-<rel>, /usr/src/linux-<rel>/.config,
//        /usr/src/linux/.config, /usr/lib/modules/<rel>/config,
//        /usr/lib/ostree-boot/config-<rel>, /usr/lib/kernel/config-<rel>,
//        /usr/src/linux-headers-<rel>/.config, /lib/modules/<rel>/build/.config
//        (the list of Kubernetes' system-validators and k0s); never
//        `modprobe configs`. Headers: /usr/src/linux-headers-<rel>,
//        /usr/src/kernels/<rel>, /lib/modules/<rel>/build.
// Facts: kernel.config.<OPTION>, kernel.headers.present, kernel.headers.path.
// The chains move on only on ENOENT; any other error stops them with an
// error and leaves the facts out. Without kernel.release only
// /proc/config.gz is tried.

#include <cstddef>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "probe/probe.h"
#include "probe/result.h"

namespace cvm::probe {

// Kconfig output: "CONFIG_X=y" -> {"X", "y"}; "# CONFIG_X is not set" ->
// {"X", "n"}; other comments and blank lines skipped. Values are kept as
// written (quotes included).
std::map<std::string, std::string> ParseKernelConfig(std::string_view text);

// ParseKernelConfig over text handed in pieces (a piece may end
// mid-line), keeping only the options in `wanted`: a config is 8,000
// lines, the probe wants 18. any_option() says whether the text had any
// CONFIG_ line at all (wanted or not).
class KernelConfigReader {
 public:
  explicit KernelConfigReader(std::span<const std::string_view> wanted) : wanted_(wanted) {}
  void Feed(std::string_view piece);
  std::map<std::string, std::string> Finish();
  bool any_option() const { return any_; }

 private:
  void Lines(std::string_view text);
  std::span<const std::string_view> wanted_;
  std::string carry_;
  std::map<std::string, std::string> out_;
  bool any_ = false;
};

// Inflates a gzip stream, failing (not truncating) past `cap` bytes.
Result<std::string> GunzipBounded(std::string_view gz, std::size_t cap);
// The same, handing the output to `sink` in pieces of at most 64 KiB
// instead of holding it; pieces before an error have been handed on.
Result<std::size_t> GunzipPieces(std::string_view gz, std::size_t cap,
                                 const std::function<void(std::string_view)>& sink);

ProbeOutput ProbeKernelBuild(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
