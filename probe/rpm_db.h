#pragma once
// The rpm database of a root, read with librpm (Debian's librpm-dev; the
// only file of the project that includes librpm is rpm_db.cpp).
//
// Reads: the first of <root>/var/lib/rpm and <root>/usr/lib/sysimage/rpm
//   (Fedora 36+, openSUSE) that holds a database: rpmdb.sqlite (rpm >= 4.16,
//   backend sqlite), Packages.db (ndb, openSUSE) or Packages (BerkeleyDB,
//   RHEL/CentOS 7 and 8, Amazon Linux 2; read-only backend bdb_ro).
//   librpm opens databases by name and an open sqlite database writes
//   -shm/-wal files beside it, so the database files are first copied
//   through HostRoot (in 1 MiB ranges, at most kRpmDbCap bytes in all) into
//   a private ScratchDir, and librpm is pointed at the copy with an explicit
//   _dbpath (Debian's rpm defaults to ~/.rpmdb). Nothing is written into
//   the root; the copy is removed when the read ends.
// Errors: ENOENT when neither directory holds a database (not an rpm
//   system); a read error, a database over the cap, or librpm failing to
//   open the copy (its own messages, which are captured, not printed) are
//   returned as the error. librpm runs in a forked child killed after 20 s
//   (probe/child.h), so a database that crashes, hangs or leaks librpm
//   costs the scan an error, not its process.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "probe/host_root.h"
#include "probe/package_db.h"
#include "probe/result.h"

namespace cvm::probe {

inline constexpr std::uint64_t kRpmDbCap = 1ull << 30;  // 1 GiB in all

struct RpmDb {
  std::string dir;      // in-root, "/var/lib/rpm"
  std::string file;     // in-root, "/var/lib/rpm/rpmdb.sqlite"
  std::string backend;  // sqlite | ndb | bdb_ro
  // The installed packages named in the query: name, version as
  // [epoch:]version-release ("1.6.21-3.1.el8"), arch, and owned files.
  std::vector<Package> packages;
};

Result<RpmDb> ReadRpmDb(const HostRoot& root, std::span<const std::string_view> names);

}  // namespace cvm::probe
