#pragma once
// The distro, per os-release(5).
// Reads: /etc/os-release, else /usr/lib/os-release (only when the first
//        does not exist); when neither exists, the legacy files of old
//        hosts: /etc/redhat-release, /etc/system-release, /etc/lsb-release,
//        /etc/debian_version (CentOS 6, Amazon Linux 1, old Ubuntu).
// Facts: os.id, os.version_id, os.id_like, os.name, os.pretty_name,
//        os.version, os.version_codename, os.variant_id, os.build_id; the
//        source of each names the file it came from.
// Any error other than "does not exist" stops the chain and is reported.

#include <string>
#include <string_view>
#include <vector>

#include "probe/probe.h"

namespace cvm::probe {

// The os.* facts one file gives, by fact name, in catalog order.
struct OsInfo {
  std::vector<std::pair<std::string, FactValue>> facts;
  std::vector<std::string> warnings;
};

OsInfo OsInfoFromOsRelease(std::string_view text);
// "CentOS release 6.10 (Final)", "Amazon Linux AMI release 2018.03",
// "Red Hat Enterprise Linux Server release 7.9 (Maipo)".
OsInfo OsInfoFromRedhatRelease(std::string_view text);
// DISTRIB_ID / DISTRIB_RELEASE / DISTRIB_CODENAME / DISTRIB_DESCRIPTION.
OsInfo OsInfoFromLsbRelease(std::string_view text);
// "12.5", "8.11", "bookworm/sid".
OsInfo OsInfoFromDebianVersion(std::string_view text);

ProbeOutput ProbeOsRelease(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
