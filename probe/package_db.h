#pragma once
// Pure parsers of the package databases that say which package owns a
// runtime binary: dpkg's status file (and the status.d/ stanzas of
// distroless images), dpkg's <pkg>.list files, and apk's installed db.

#include <string>
#include <string_view>
#include <vector>

namespace cvm::probe {

struct Package {
  std::string name;
  std::string version;
  std::string arch;
  std::vector<std::string> files;  // apk and rpm: owned paths, "/usr/bin/runc"
  bool operator==(const Package&) const = default;
};

// dpkg status(5) stanzas; only packages whose Status ends in "installed"
// are kept. A stanza without Status (distroless status.d/) counts as
// installed when `status_optional`.
std::vector<Package> ParseDpkgStatus(std::string_view text,
                                     bool status_optional = false);
// ParseDpkgStatus over a file handed in pieces (HostRoot::ReadPieces),
// keeping only the packages named in `wanted`: the same packages as
// ParseDpkgStatus of the whole text, filtered, without holding the text (a
// node's status file is a megabyte; the runtime probe wants 15 packages).
// Complete stanzas are parsed as soon as a blank line ends them.
class DpkgStatusReader {
 public:
  DpkgStatusReader(const std::vector<std::string_view>& wanted, bool status_optional = false)
      : wanted_(wanted), status_optional_(status_optional) {}
  void Feed(std::string_view piece);
  std::vector<Package> Finish();

 private:
  void Take(std::string_view stanzas);
  std::vector<std::string_view> wanted_;
  bool status_optional_;
  std::string carry_;
  std::vector<Package> out_;
};
// A dpkg info/<pkg>.list file: one absolute path per line.
std::vector<std::string> ParseDpkgList(std::string_view text);
// apk's /lib/apk/db/installed: P: name, V: version, A: arch, F: dir and
// R: file lines; stanzas separated by blank lines.
std::vector<Package> ParseApkInstalled(std::string_view text);
// The upstream part of a package version: no epoch, no revision
// ("1:1.6.20~ds1-1+deb12u3" -> "1.6.20~ds1", "1.5.11-1" -> "1.5.11").
std::string UpstreamVersion(std::string_view version);

}  // namespace cvm::probe
