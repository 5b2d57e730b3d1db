#include "probe/kernel.h"

#include <cerrno>
#include <charconv>

#include "probe/fact_catalog.h"
#include "probe/detail/text.h"

namespace cvm::probe {
namespace {

using detail::TrimSpace;

constexpr std::size_t kSmallFileCap = 4096;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads one decimal number at s[i...]; advances i.
bool TakeNumber(std::string_view s, std::size_t& i, std::int64_t& out) {
  std::size_t start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == start) return false;
  auto [p, ec] = std::from_chars(s.data() + start, s.data() + i, out);
  return ec == std::errc() && p == s.data() + i;
}

}  // namespace

Result<KernelRelease> ParseKernelRelease(std::string_view text) {
  std::string_view s = TrimSpace(text);
  if (s.empty()) return MakeError("", "empty kernel release");
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || static_cast<unsigned char>(c) < 0x20) {
      return MakeError("", "kernel release contains white space or control "
                           "characters");
    }
  }
  KernelRelease k;
  k.release = std::string(s);
  std::size_t i = 0;
  if (!TakeNumber(s, i, k.major) || i >= s.size() || s[i] != '.') {
    return MakeError("", "kernel release \"" + k.release +
                             "\" does not start with X.Y");
  }
  ++i;
  if (!TakeNumber(s, i, k.minor)) {
    return MakeError("", "kernel release \"" + k.release +
                             "\" does not start with X.Y");
  }
  std::size_t after_minor = i;
  if (i + 1 < s.size() && s[i] == '.' && IsDigit(s[i + 1])) {
    ++i;
    if (!TakeNumber(s, i, k.patch)) {
      return MakeError("", "kernel release \"" + k.release +
                               "\" has a patch number out of range");
    }
  } else {
    i = after_minor;
  }
  k.version = std::to_string(k.major) + "." + std::to_string(k.minor) + "." +
              std::to_string(k.patch);
  std::string_view rest = s.substr(i);
  if (!rest.empty() && (rest.front() == '-' || rest.front() == '.' ||
                        rest.front() == '_' || rest.front() == '~')) {
    rest.remove_prefix(1);
  }
  k.flavor = std::string(rest);
  return k;
}

Result<std::string> ReleaseFromProcVersion(std::string_view text) {
  std::string_view fields[3];
  std::size_t n = 0, i = 0;
  while (n < 3 && i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\t' &&
           text[j] != '\n') {
      ++j;
    }
    if (j == i) break;
    fields[n++] = text.substr(i, j - i);
    i = j;
  }
  if (n < 3 || fields[0] != "Linux" || fields[1] != "version") {
    return MakeError("", "does not start with \"Linux version <release>\"");
  }
  return std::string(fields[2]);
}

ProbeOutput ProbeKernel(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    std::string release, source;
    constexpr std::string_view kOsrelease = "/proc/sys/kernel/osrelease";
    constexpr std::string_view kProcVersion = "/proc/version";
    auto text = ctx.root.ReadFile(kOsrelease, kSmallFileCap);
    if (text) {
      release = std::string(TrimSpace(*text));
      source = kOsrelease;
    } else if (text.error().code != ENOENT) {
      out.AddError(text.error());
      return;
    } else {
      auto version = ctx.root.ReadFile(kProcVersion, kSmallFileCap);
      if (!version) {
        out.AddError(version.error().code == ENOENT
                         ? MakeError(std::string(kOsrelease),
                                     "neither /proc/sys/kernel/osrelease nor "
                                     "/proc/version exists in the root",
                                     ENOENT)
                         : version.error());
        return;
      }
      auto rel = ReleaseFromProcVersion(*version);
      if (!rel) {
        out.AddError(MakeError(std::string(kProcVersion), rel.error().message));
        return;
      }
      release = *rel;
      source = kProcVersion;
    }
    auto parsed = ParseKernelRelease(release);
    if (!parsed) {
      if (!release.empty()) out.Set(kKernelRelease, release, source);
      out.AddError(MakeError(source, parsed.error().message));
      return;
    }
    out.Set(kKernelRelease, parsed->release, source);
    out.Set(kKernelVersion, parsed->version, source);
    out.Set(kKernelMajor, parsed->major, source);
    out.Set(kKernelMinor, parsed->minor, source);
    out.Set(kKernelPatch, parsed->patch, source);
    out.Set(kKernelFlavor, parsed->flavor, source);
  });
}

}  // namespace cvm::probe
