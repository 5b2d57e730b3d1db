#include "probe/os_release.h"

#include <cctype>
#include <cerrno>

#include "probe/env_file.h"
#include "probe/fact_catalog.h"
#include "probe/detail/text.h"

namespace cvm::probe {
namespace {

using detail::TrimSpace;

constexpr std::size_t kOsReleaseCap = 64 * 1024;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

StringList SplitSpaces(std::string_view s) {
  StringList out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    std::size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

void Add(OsInfo& info, std::string_view name, std::string value) {
  info.facts.emplace_back(std::string(name), FactValue(std::move(value)));
}

// The os-release ID that a legacy release line's distro name stands for.
std::string IdForName(std::string_view name) {
  struct Map {
    std::string_view prefix;
    std::string_view id;
  };
  static constexpr Map kMap[] = {
      {"Red Hat Enterprise Linux", "rhel"},
      {"CentOS Stream", "centos"},
      {"CentOS", "centos"},
      {"Amazon Linux", "amzn"},
      {"Fedora", "fedora"},
      {"Rocky Linux", "rocky"},
      {"AlmaLinux", "almalinux"},
      {"Oracle Linux", "ol"},
      {"Scientific Linux", "scientific"},
      {"CloudLinux", "cloudlinux"},
  };
  for (const auto& m : kMap) {
    if (name.substr(0, m.prefix.size()) == m.prefix) return std::string(m.id);
  }
  return {};
}

}  // namespace

OsInfo OsInfoFromOsRelease(std::string_view text) {
  EnvFile env = ParseEnvFile(text);
  OsInfo info;
  info.warnings = env.warnings;
  struct Key {
    std::string_view key;
    std::string_view fact;
  };
  static constexpr Key kKeys[] = {
      {"ID", kOsId},
      {"VERSION_ID", kOsVersionId},
      {"NAME", kOsName},
      {"PRETTY_NAME", kOsPrettyName},
      {"VERSION", kOsVersion},
      {"VERSION_CODENAME", kOsVersionCodename},
      {"VARIANT_ID", kOsVariantId},
      {"BUILD_ID", kOsBuildId},
  };
  for (const auto& k : kKeys) {
    if (const std::string* v = env.Get(k.key)) Add(info, k.fact, *v);
  }
  if (const std::string* like = env.Get("ID_LIKE")) {
    info.facts.emplace_back(std::string(kOsIdLike), FactValue(SplitSpaces(*like)));
  }
  return info;
}

OsInfo OsInfoFromRedhatRelease(std::string_view text) {
  OsInfo info;
  std::string_view line = TrimSpace(text.substr(0, text.find('\n')));
  if (line.empty()) {
    info.warnings.push_back("empty release file");
    return info;
  }
  Add(info, kOsPrettyName, std::string(line));
  auto rel = line.find(" release ");
  if (rel == std::string_view::npos) {
    info.warnings.push_back("no \" release \" in \"" + std::string(line) + "\"");
    return info;
  }
  std::string_view name = line.substr(0, rel);
  std::string_view rest = line.substr(rel + 9);
  std::string_view version = rest.substr(0, rest.find(' '));
  Add(info, kOsName, std::string(name));
  if (std::string id = IdForName(name); !id.empty()) Add(info, kOsId, id);
  if (!version.empty()) Add(info, kOsVersionId, std::string(version));
  auto open = rest.find('(');
  auto close = rest.rfind(')');
  if (open != std::string_view::npos && close != std::string_view::npos &&
      close > open + 1) {
    Add(info, kOsVersionCodename, Lower(rest.substr(open + 1, close - open - 1)));
  }
  return info;
}

OsInfo OsInfoFromLsbRelease(std::string_view text) {
  EnvFile env = ParseEnvFile(text);
  OsInfo info;
  info.warnings = env.warnings;
  if (const auto* v = env.Get("DISTRIB_ID")) {
    Add(info, kOsId, Lower(*v));
    Add(info, kOsName, *v);
  }
  if (const auto* v = env.Get("DISTRIB_RELEASE")) Add(info, kOsVersionId, *v);
  if (const auto* v = env.Get("DISTRIB_CODENAME")) Add(info, kOsVersionCodename, *v);
  if (const auto* v = env.Get("DISTRIB_DESCRIPTION")) Add(info, kOsPrettyName, *v);
  return info;
}

OsInfo OsInfoFromDebianVersion(std::string_view text) {
  OsInfo info;
  std::string_view v = TrimSpace(text);
  if (v.empty()) {
    info.warnings.push_back("empty debian_version");
    return info;
  }
  Add(info, kOsId, "debian");
  Add(info, kOsName, "Debian GNU/Linux");
  Add(info, kOsVersion, std::string(v));
  // os-release's VERSION_ID on Debian is the major release ("12").
  std::size_t i = 0;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
  if (i > 0) Add(info, kOsVersionId, std::string(v.substr(0, i)));
  return info;
}

ProbeOutput ProbeOsRelease(const ProbeContext& ctx) noexcept {
  return Guarded([&](ProbeOutput& out) {
    struct Candidate {
      std::string_view path;
      OsInfo (*parse)(std::string_view);
    };
    static constexpr Candidate kChain[] = {
        {"/etc/os-release", &OsInfoFromOsRelease},
        {"/usr/lib/os-release", &OsInfoFromOsRelease},
        {"/etc/redhat-release", &OsInfoFromRedhatRelease},
        {"/etc/system-release", &OsInfoFromRedhatRelease},
        {"/etc/lsb-release", &OsInfoFromLsbRelease},
        {"/etc/debian_version", &OsInfoFromDebianVersion},
    };
    for (const auto& c : kChain) {
      auto text = ctx.root.ReadFile(c.path, kOsReleaseCap);
      if (!text) {
        if (text.error().code == ENOENT) continue;
        out.AddError(text.error());
        return;
      }
      OsInfo info = c.parse(*text);
      for (const auto& w : info.warnings) {
        out.AddError(MakeError(std::string(c.path), w));
      }
      for (auto& [name, value] : info.facts) {
        out.Set(name, std::move(value), c.path);
      }
      return;
    }
    out.AddError(MakeError("/etc/os-release",
                           "no os-release file: neither /etc/os-release, "
                           "/usr/lib/os-release nor a legacy release file "
                           "exists in the root",
                           ENOENT));
  });
}

}  // namespace cvm::probe
