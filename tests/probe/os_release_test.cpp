#include "probe/os_release.h"

#include <map>

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "tests/support/data.h"
#include "tests/support/fixture.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

using cvm::testing::ScanTree;
using cvm::testing::TempTree;

std::map<std::string, FactValue> AsMap(const OsInfo& info) {
  std::map<std::string, FactValue> m;
  for (const auto& [k, v] : info.facts) m[k] = v;
  return m;
}

std::string Str(const std::map<std::string, FactValue>& m, std::string_view k) {
  auto it = m.find(std::string(k));
  if (it == m.end()) return "<absent>";
  const auto* s = std::get_if<std::string>(&it->second);
  return s ? *s : "<not a string>";
}

TEST(OsReleaseParse, UbuntuFields) {
  auto m = AsMap(OsInfoFromOsRelease(
      "NAME=\"Ubuntu\"\nVERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\nID=ubuntu\n"
      "ID_LIKE=debian\nVERSION_CODENAME=jammy\nVERSION_ID=\"22.04\"\n"));
  EXPECT_EQ(Str(m, kOsId), "ubuntu");
  EXPECT_EQ(Str(m, kOsVersionId), "22.04");
  EXPECT_EQ(Str(m, kOsVersion), "22.04.4 LTS (Jammy Jellyfish)");
  EXPECT_EQ(Str(m, kOsVersionCodename), "jammy");
  EXPECT_EQ(std::get<StringList>(m.at(std::string(kOsIdLike))), StringList{"debian"});
}

TEST(OsReleaseParse, IdLikeIsSplitOnSpaces) {
  auto m = AsMap(OsInfoFromOsRelease("ID_LIKE=\"rhel  centos fedora\"\n"));
  EXPECT_EQ(std::get<StringList>(m.at(std::string(kOsIdLike))),
            (StringList{"rhel", "centos", "fedora"}));
}

// Every real os-release file in tests/data parses without a warning and
// names its distro; the expected IDs are the distros' documented ones.
TEST(OsReleaseParse, EveryRealFileInTestData) {
  const std::map<std::string, std::string> want_id = {
      {"almalinux-9", "almalinux"}, {"alpine-3.18", "alpine"},
      {"amazon-linux-2", "amzn"},   {"amazon-linux-2023", "amzn"},
      {"arch", "arch"},             {"azurelinux-3", "azurelinux"},
      {"bottlerocket-1.15", "bottlerocket"}, {"cos-97", "cos"},
      {"debian-12", "debian"},      {"fedora-39", "fedora"},
      {"flatcar", "flatcar"},       {"mariner-2", "mariner"},
      {"oraclelinux-8", "ol"},      {"rhel-8.9", "rhel"},
      {"rocky-9.5", "rocky"},       {"sles-15", "sles"},
      {"ubuntu-14.04", "ubuntu"},   {"ubuntu-16.04", "ubuntu"},
      {"ubuntu-18.04", "ubuntu"},   {"ubuntu-20.04", "ubuntu"},
      {"ubuntu-24.04", "ubuntu"},   {"gentoo", "gentoo"},
      {"nixos-24.05", "nixos"},     {"photon-5", "photon"},
      {"clearlinux", "clear-linux-os"},
  };
  std::string dir = cvm::testing::SourcePath("tests/data/os-release");
  int checked = 0;
  for (const auto& name : cvm::testing::ListNames(dir, true)) {
    if (name == "SOURCES.md") continue;
    SCOPED_TRACE(name);
    OsInfo info = OsInfoFromOsRelease(cvm::testing::ReadText(dir + "/" + name));
    EXPECT_TRUE(info.warnings.empty()) << info.warnings.front();
    auto m = AsMap(info);
    EXPECT_NE(Str(m, kOsId), "<absent>");
    EXPECT_NE(Str(m, kOsName), "<absent>");
    if (auto it = want_id.find(name); it != want_id.end()) {
      EXPECT_EQ(Str(m, kOsId), it->second);
      ++checked;
    }
  }
  EXPECT_GE(checked, 20);
}

TEST(RedhatRelease, Table) {
  struct Row {
    std::string_view text, id, version_id, name, codename;
  };
  const Row rows[] = {
      {"CentOS release 6.10 (Final)\n", "centos", "6.10", "CentOS", "final"},
      {"Red Hat Enterprise Linux release 8.9 (Ootpa)\n", "rhel", "8.9",
       "Red Hat Enterprise Linux", "ootpa"},
      {"Red Hat Enterprise Linux Server release 7.9 (Maipo)", "rhel", "7.9",
       "Red Hat Enterprise Linux Server", "maipo"},
      {"Amazon Linux AMI release 2018.03\n", "amzn", "2018.03", "Amazon Linux AMI",
       "<absent>"},
      {"CentOS Linux release 7.9.2009 (Core)\n", "centos", "7.9.2009",
       "CentOS Linux", "core"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    OsInfo info = OsInfoFromRedhatRelease(row.text);
    EXPECT_TRUE(info.warnings.empty());
    auto m = AsMap(info);
    EXPECT_EQ(Str(m, kOsId), row.id);
    EXPECT_EQ(Str(m, kOsVersionId), row.version_id);
    EXPECT_EQ(Str(m, kOsName), row.name);
    EXPECT_EQ(Str(m, kOsVersionCodename), row.codename);
  }
}

TEST(RedhatRelease, UnknownShapeWarns) {
  OsInfo info = OsInfoFromRedhatRelease("something else\n");
  EXPECT_EQ(info.warnings.size(), 1u);
  EXPECT_EQ(Str(AsMap(info), kOsId), "<absent>");
}

TEST(LsbRelease, UbuntuTrusty) {
  auto m = AsMap(OsInfoFromLsbRelease(
      "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=14.04\nDISTRIB_CODENAME=trusty\n"
      "DISTRIB_DESCRIPTION=\"Ubuntu 14.04.6 LTS\""));
  EXPECT_EQ(Str(m, kOsId), "ubuntu");
  EXPECT_EQ(Str(m, kOsVersionId), "14.04");
  EXPECT_EQ(Str(m, kOsPrettyName), "Ubuntu 14.04.6 LTS");
}

TEST(DebianVersion, MajorBecomesVersionId) {
  auto m = AsMap(OsInfoFromDebianVersion("8.11\n"));
  EXPECT_EQ(Str(m, kOsId), "debian");
  EXPECT_EQ(Str(m, kOsVersionId), "8");
  EXPECT_EQ(Str(m, kOsVersion), "8.11");
  auto sid = AsMap(OsInfoFromDebianVersion("bookworm/sid\n"));
  EXPECT_EQ(Str(sid, kOsVersionId), "<absent>");
}

TEST(OsReleaseProbe, PrefersEtcOverUsrLib) {
  TempTree t;
  t.Write("etc/os-release", "ID=etc\n");
  t.Write("usr/lib/os-release", "ID=usrlib\n");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString(kOsId), "etc");
  EXPECT_EQ(f.Find(kOsId)->source, "/etc/os-release");
}

TEST(OsReleaseProbe, FallsBackToUsrLibOnlyWhenEtcIsMissing) {
  TempTree t;
  t.Write("usr/lib/os-release", "ID=usrlib\n");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString(kOsId), "usrlib");
  EXPECT_EQ(f.Find(kOsId)->source, "/usr/lib/os-release");
}

TEST(OsReleaseProbe, ADanglingEtcLinkFallsBack) {
  TempTree t;
  t.Symlink("etc/os-release", "../usr/lib/os-release");
  t.Write("etc/redhat-release", "CentOS release 6.10 (Final)\n");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString(kOsId), "centos");
  EXPECT_EQ(f.Find(kOsId)->source, "/etc/redhat-release");
}

TEST(OsReleaseProbe, BadLinesAreReportedAndTheRestKept) {
  TempTree t;
  t.Write("etc/os-release", "ID=x\nNAME=\"broken\n");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString(kOsId), "x");
  bool found = false;
  for (const auto& e : f.errors()) {
    if (e.probe == "os-release") {
      EXPECT_EQ(e.message,
                "/etc/os-release: line 2: unterminated double quote; line ignored");
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(OsReleaseProbe, NothingAtAllIsOneClearError) {
  TempTree t;
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has(kOsId));
  int n = 0;
  for (const auto& e : f.errors()) n += e.probe == "os-release";
  EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace cvm::probe
