#pragma once
// What a workspace image needs to start as a Coder CVM (reference 7.8,
// coder/docs@e77433ee): systemd as /sbin/init, Docker installed and enabled
// under systemd, nothing left in /tmp, and the packages of the docs' example
// Dockerfile. Run by `cvm-preflight image` only (ImageProbes(),
// probe/registry.h), beside os-release and the runtime probe, whose
// runtime.* facts then describe the image's own docker, containerd and runc.
// Reads: /sbin/init, /lib/systemd/systemd, /usr/lib/systemd/systemd; dockerd
//        and docker in kRuntimeBinaryDirs; /etc/systemd/system/*.wants/
//        docker.{service,socket} and the masks /etc/systemd/system/docker.*;
//        /tmp (bounded walk); /var/lib/dpkg/status (and status.d/), the rpm
//        database, /lib/apk/db/installed.
// Facts: image.init.*, image.docker.*, image.tmp.*, image.packages.*,
//        image.platform.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "probe/probe.h"

namespace cvm::probe {

// One package of the docs' example, with the names other package
// databases give it.
struct DocsPackage {
  std::string_view name;                      // as the docs write it
  std::span<const std::string_view> accepts;  // any of these installed
};
std::span<const DocsPackage> DocsPackages();
// Every name any DocsPackage accepts (what the package readers look for).
std::vector<std::string_view> DocsPackageNames();
// Splits the docs' packages into installed and missing (docs names, in
// the docs' order) given the installed package names of the image.
struct DocsPackageStatus {
  std::vector<std::string> installed;
  std::vector<std::string> missing;
};
DocsPackageStatus CheckDocsPackages(const std::vector<std::string>& installed_names);

// The platform ("linux/amd64") of a package architecture as dpkg, rpm
// or apk name it ("amd64", "x86_64", "armhf"; `db` is "dpkg", "rpm" or
// "apk"); "" for "all", "noarch" or a name not known.
std::string PlatformOfPackageArch(std::string_view arch, std::string_view db);

// The /tmp walk's bounds.
inline constexpr int kTmpMaxDepth = 8;
inline constexpr std::int64_t kTmpMaxCount = 10000;
inline constexpr std::size_t kTmpListed = 20;

ProbeOutput ProbeWorkspaceImage(const ProbeContext& ctx) noexcept;

}  // namespace cvm::probe
