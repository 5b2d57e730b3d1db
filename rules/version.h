#pragma once
// One version comparison for every rule: upstream releases (runc 1.0.0-rc92
// < 1.0.0 < 1.1.0-rc.1 < 1.1.0), kernel releases (5.15.0-91 > 5.4.0-216),
// and Debian and RPM package versions by dpkg's and rpm's own algorithms
// (epochs, "~", "+ds1", "-1+deb12u3", ".el7").

#include <string_view>

namespace cvm::rules {

enum class VersionScheme {
  kUpstream,  // leading "v" dropped; "-rc", "-alpha", "-beta", "-pre" sort first
  kKernel,    // dotted numbers then the rest, each run compared naturally
  kDpkg,      // deb-version(7): [epoch:]upstream[-revision]
  kRpm,       // rpmvercmp, with [epoch:]version[-release]
};

// <0, 0 or >0 as a is older than, equal to or newer than b.
int CompareVersions(std::string_view a, std::string_view b,
                    VersionScheme scheme = VersionScheme::kUpstream);

}  // namespace cvm::rules
