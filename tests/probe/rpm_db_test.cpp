// The rpm database reader (librpm) on databases written by the real rpm
// tool: tests/setup/rpmdb.sh (CTest fixture "rpmdb") builds containerd.io
// 1.5.11-1 and 1.6.21-3.1.el8 with rpmbuild and installs them with
// `rpm -i --justdb --root R --dbpath /var/lib/rpm` (Debian 12's rpm 4.18:
// sqlite). Nothing on Debian 12 writes rpm's BerkeleyDB "Packages" format
// and no public sample small enough was found, so the bdb_ro path of
// probe/rpm_db.cpp is not tested here.
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "probe/rpm_db.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

namespace fs = std::filesystem;
using cvm::testing::TempTree;

const std::string kCache = std::string(CVM_TEST_CACHE) + "/rpmdb";
constexpr std::string_view kNames[] = {"containerd.io", "runc"};

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every entry of a tree: type, mode, mtime and, for files, the bytes.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st;
    EXPECT_EQ(::lstat(e.path().c_str(), &st), 0) << e.path();
    std::string v = std::to_string(st.st_mode) + " " + std::to_string(st.st_size) + " " +
                    std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
    if (S_ISREG(st.st_mode)) v += "\n" + Slurp(e.path());
    out[fs::relative(e.path(), dir).string()] = v;
  }
  return out;
}

class RealRpmDb : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kCache + "/1.5.11-1/var/lib/rpm/rpmdb.sqlite"))
        << "tests/setup/rpmdb.sh did not run";
  }
};

TEST_F(RealRpmDb, ReadsThePackageRpmWrote) {
  auto root = HostRoot::Open(kCache + "/1.6.21-3.1.el8");
  ASSERT_TRUE(root);
  auto db = ReadRpmDb(*root, kNames);
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_EQ(db->dir, "/var/lib/rpm");
  EXPECT_EQ(db->file, "/var/lib/rpm/rpmdb.sqlite");
  EXPECT_EQ(db->backend, "sqlite");
  ASSERT_EQ(db->packages.size(), 1u);  // no package named runc
  const Package& p = db->packages[0];
  EXPECT_EQ(p.name, "containerd.io");
  EXPECT_EQ(p.version, "1.6.21-3.1.el8");
  EXPECT_EQ(p.arch, "noarch");
  EXPECT_EQ(p.files, (std::vector<std::string>{"/usr/bin/containerd", "/usr/bin/runc"}));
}

TEST_F(RealRpmDb, ScanTakesRuncFromTheContainerdIoTable) {
  struct Case {
    std::string root, package_version, runc, containerd;
  };
  for (const Case& c : {Case{"1.5.11-1", "1.5.11-1", "1.0.3", "1.5.11"},
                        Case{"1.6.21-3.1.el8", "1.6.21-3.1.el8", "1.1.7", "1.6.21"}}) {
    SCOPED_TRACE(c.root);
    auto root = HostRoot::Open(kCache + "/" + c.root);
    ASSERT_TRUE(root);
    Facts f = RunProbes(*root, ProbeOptions{});
    ASSERT_TRUE(f.Has(kRuntimeRuncPackage));
    EXPECT_EQ(*f.GetString(kRuntimeRuncPackage), "containerd.io");
    EXPECT_EQ(*f.GetString(kRuntimeRuncPackageVersion), c.package_version);
    EXPECT_EQ(f.Find(kRuntimeRuncPackageVersion)->source, "/var/lib/rpm/rpmdb.sqlite");
    EXPECT_EQ(*f.GetString(kRuntimeRuncVersion), c.runc);
    EXPECT_NE(f.Find(kRuntimeRuncVersion)->source.find("containerd-io-runc.tsv"),
              std::string::npos);
    EXPECT_EQ(*f.GetString(kRuntimeRuncSource), "rpm");
    EXPECT_EQ(*f.GetString(kRuntimeContainerdPackage), "containerd.io");
    EXPECT_EQ(*f.GetString(kRuntimeContainerdVersion), c.containerd);
    EXPECT_EQ(*f.GetString(kRuntimeContainerdSource), "rpm");
    for (const auto& e : f.errors()) {
      EXPECT_NE(e.probe, "runtime") << e.message;
    }
  }
}

TEST_F(RealRpmDb, ScanLeavesTheRootUnchanged) {
  // A copy, so that this test's root is its own (other tests read the cache).
  TempTree t;
  fs::copy(kCache + "/1.5.11-1", t.path(), fs::copy_options::recursive);
  auto before = Snapshot(t.path());
  ASSERT_TRUE(before.count("var/lib/rpm/rpmdb.sqlite"));
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  Facts f = RunProbes(*root, ProbeOptions{});
  ASSERT_EQ(*f.GetString(kRuntimeRuncSource), "rpm");  // the database was read
  auto after = Snapshot(t.path());
  EXPECT_EQ(before.size(), after.size());
  for (const auto& [path, v] : after) {
    SCOPED_TRACE(path);
    ASSERT_TRUE(before.count(path)) << "new file in the scanned root";
    EXPECT_TRUE(before[path] == v) << "changed";
  }
}

TEST_F(RealRpmDb, PrivateCopyIsRemoved) {
  TempTree tmp;
  const char* old = std::getenv("TMPDIR");
  std::string saved = old ? old : "";
  ASSERT_EQ(::setenv("TMPDIR", tmp.path().c_str(), 1), 0);
  auto root = HostRoot::Open(kCache + "/1.5.11-1");
  ASSERT_TRUE(root);
  auto db = ReadRpmDb(*root, kNames);
  if (old) {
    ::setenv("TMPDIR", saved.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_EQ(db->packages.size(), 1u);
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST_F(RealRpmDb, SysimageLayout) {
  // Fedora 36+: the database in /usr/lib/sysimage/rpm, /var/lib/rpm a link
  // to it; openSUSE: no /var/lib/rpm database at all.
  for (bool link : {true, false}) {
    SCOPED_TRACE(link ? "fedora" : "opensuse");
    TempTree t;
    t.Mkdir("usr/lib/sysimage/rpm");
    fs::copy_file(kCache + "/1.5.11-1/var/lib/rpm/rpmdb.sqlite",
                  t.Abs("usr/lib/sysimage/rpm/rpmdb.sqlite"));
    if (link) t.Symlink("var/lib/rpm", "../../usr/lib/sysimage/rpm");
    auto root = HostRoot::Open(t.path());
    ASSERT_TRUE(root);
    auto db = ReadRpmDb(*root, kNames);
    ASSERT_TRUE(db) << db.error().message;
    EXPECT_EQ(db->dir, link ? "/var/lib/rpm" : "/usr/lib/sysimage/rpm");
    ASSERT_EQ(db->packages.size(), 1u);
    EXPECT_EQ(db->packages[0].version, "1.5.11-1");
  }
}

TEST(RpmDb, NoDatabaseIsEnoent) {
  TempTree t;
  t.Mkdir("var/lib/rpm");  // the directory alone is no database
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  auto db = ReadRpmDb(*root, kNames);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, ENOENT);
}

TEST(RpmDb, CorruptDatabaseIsAnErrorNotStderr) {
  TempTree t;
  t.Write("var/lib/rpm/rpmdb.sqlite", std::string(4096, 'x'));
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  ::testing::internal::CaptureStderr();
  auto db = ReadRpmDb(*root, kNames);
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().code, ENOENT);
  EXPECT_NE(db.error().message.find("/var/lib/rpm/rpmdb.sqlite"), std::string::npos);
  // librpm's own words, with the private copy's path replaced by the root's.
  EXPECT_NE(db.error().message.find("librpm"), std::string::npos) << db.error().message;
  EXPECT_EQ(db.error().message.find("cvm-preflight-rpmdb-"), std::string::npos)
      << db.error().message;
  EXPECT_EQ(err, "");
}

TEST(RpmDb, DatabaseThatIsNotAFileIsAnError) {
  TempTree t;
  t.Mkdir("var/lib/rpm/rpmdb.sqlite");
  auto root = HostRoot::Open(t.path());
  ASSERT_TRUE(root);
  auto db = ReadRpmDb(*root, kNames);
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().code, ENOENT);
}

}  // namespace
}  // namespace cvm::probe
