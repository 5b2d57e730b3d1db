#pragma once
// The running kernel's release and its parts.
// Reads: /proc/sys/kernel/osrelease, else field 3 of /proc/version.
// Facts: kernel.release, kernel.version, kernel.major, kernel.minor,
//        kernel.patch, kernel.flavor.
// A release that does not start with X.Y keeps kernel.release only and
// records an error; no file leaves every fact out, with the error.

#include <cstdint>
#include <string>
#include <string_view>

#include "probe/probe.h"
#include "probe/result.h"

namespace cvm::probe {

struct KernelRelease {
  std::string release;  // "5.15.0-91-generic"
  std::string version;  // "5.15.0"
  std::int64_t major = 0;
  std::int64_t minor = 0;
  std::int64_t patch = 0;
  std::string flavor;  // "91-generic"
  bool operator==(const KernelRelease&) const = default;
};

// Parses a release such as "4.18.0-477.27.1.el8_8.x86_64", "6.1.58+" or
// "6.6.130.1-3.azl3". Surrounding white space is trimmed.
Result<KernelRelease> ParseKernelRelease(std::string_view release);

// The release from a /proc/version text ("Linux version <release> ..."),
// taken by fields, so compiler wording does not matter.
Result<std::string> ReleaseFromProcVersion(std::string_view text);

ProbeOutput ProbeKernel(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
