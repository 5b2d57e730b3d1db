// Runtime handler parsers on real config files
// (tests/data/runtime-config/SOURCES.md), and the package-db parsers.
#include "probe/runtime_config.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "probe/package_db.h"
#include "tests/support/data.h"

namespace cvm::probe {
namespace {

std::string Config(const std::string& name) {
  return cvm::testing::ReadText(
      cvm::testing::SourcePath("tests/data/runtime-config/" + name));
}

TEST(ContainerdConfigParse, RealFiles) {
  struct Row {
    std::string file;
    std::int64_t version;
    std::vector<std::string> handlers;
  };
  const Row rows[] = {
      {"containerd.io-config.toml", 1, {}},
      {"k3s-v2-nvidia-operator.toml", 2, {"runc", "nvidia"}},
      {"k0s-v3-sysbox-dropin.toml", 3, {"sysbox-runc"}},
      {"k3s-legacy-v1-nvidia.toml", 1, {"nvidia"}},
      {"gke-cos-config.toml", 2, {"runc"}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.file);
    std::string text = Config(row.file);
    ASSERT_FALSE(text.empty());
    auto got = ParseContainerdConfig(text);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->version, row.version);
    // toml++ keeps a table's keys sorted; compare as sets.
    auto want = row.handlers;
    auto have = got->handlers;
    std::sort(want.begin(), want.end());
    std::sort(have.begin(), have.end());
    EXPECT_EQ(have, want);
  }
}

TEST(ContainerdConfigParse, Imports) {
  auto got = ParseContainerdConfig(
      "version = 2\nimports = [\"/etc/containerd/conf.d/*.toml\", \"extra.toml\"]\n");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->imports,
            (std::vector<std::string>{"/etc/containerd/conf.d/*.toml", "extra.toml"}));
}

TEST(ContainerdConfigParse, SyntaxErrorNamesTheLine) {
  auto got = ParseContainerdConfig("version = 2\n[plugins.\n");
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("line 2"), std::string::npos)
      << got.error().message;
}

// toml++ 3.3.0 asked whether these code points are whitespace reached
// __builtin_unreachable() (probe/detail/toml.h). Each, after a table
// header's key and after a value, must be a plain syntax error; under the
// sanitizer tree's UBSan the unpatched function aborts this test.
std::string Utf8(char32_t c) {
  std::string s;
  if (c < 0x800) {
    s += static_cast<char>(0xC0 | (c >> 6));
  } else {
    s += static_cast<char>(0xE0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
  }
  s += static_cast<char>(0x80 | (c & 0x3F));
  return s;
}

TEST(RuntimeConfig, NonAsciiCodePointsToml330MisjudgedAreErrorsNotUndefinedBehaviour) {
  int errors = 0;
  for (auto [first, last] : {std::pair<char32_t, char32_t>{0xA1, 0x499}, {0xFB46, 0xFEFE}}) {
    for (char32_t c = first; c <= last; ++c) {
      const std::string ch = Utf8(c);
      auto header = ParseContainerdConfig("version = 2\n[plugins" + ch + "]\n");
      auto value = ParseContainerdConfig("version = 2" + ch + "\n");
      auto crio = ParseCrioRuntimes("[crio.runtime]" + ch + "\n");
      EXPECT_FALSE(header) << "U+" << std::hex << static_cast<unsigned>(c);
      EXPECT_FALSE(value) << "U+" << std::hex << static_cast<unsigned>(c);
      EXPECT_FALSE(crio) << "U+" << std::hex << static_cast<unsigned>(c);
      errors += !header + !value + !crio;
    }
  }
  EXPECT_EQ(errors, 3 * ((0x499 - 0xA1 + 1) + (0xFEFE - 0xFB46 + 1)));
  // The inputs the fuzzers found (tests/data/fuzz-regressions/toml/).
  for (const char* name : {"containerd-u045d-in-table-header.toml", "crio-ufeef-first.toml"}) {
    std::string text = cvm::testing::ReadText(
        cvm::testing::SourcePath(std::string("tests/data/fuzz-regressions/toml/") + name));
    ASSERT_FALSE(text.empty()) << name;
    EXPECT_FALSE(ParseContainerdConfig(text)) << name;
    EXPECT_FALSE(ParseCrioRuntimes(text)) << name;
  }
}

TEST(ContainerdConfigParse, RuntimesOfOtherPluginsAreIgnored) {
  auto got = ParseContainerdConfig(
      "[plugins.\"io.containerd.runtime.v1.linux\"]\n  runtime = \"runc\"\n"
      "[plugins.other.containerd.runtimes.x]\n");
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->handlers.empty());
}

TEST(CrioConfigParse, SysboxInstallerStanza) {
  auto got = ParseCrioRuntimes(Config("crio-sysbox.conf"));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, (std::vector<std::string>{"sysbox-runc"}));
}

TEST(CrioConfigParse, NoRuntimesTable) {
  auto got = ParseCrioRuntimes("[crio]\nroot = \"/var/lib/containers/storage\"\n");
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->empty());
  EXPECT_FALSE(ParseCrioRuntimes("[crio.runtime\n"));
}

TEST(DpkgStatusParse, KeepsInstalledOnly) {
  // Stanza shapes as dpkg writes them (fields of a real containerd.io
  // entry; a removed package keeps "deinstall ok config-files").
  auto pkgs = ParseDpkgStatus(
      "Package: containerd.io\nStatus: install ok installed\nPriority: optional\n"
      "Section: devel\nInstalled-Size: 110000\nMaintainer: Containerd team "
      "<help@containerd.io>\nArchitecture: amd64\nVersion: 1.5.11-1\n"
      "Description: An open and reliable container runtime\n containerd is an "
      "industry-standard container runtime\n .\n more text\n\n"
      "Package: runc\nStatus: deinstall ok config-files\nArchitecture: amd64\n"
      "Version: 1.1.5+ds1-1+deb12u1\n");
  ASSERT_EQ(pkgs.size(), 1u);
  EXPECT_EQ(pkgs[0].name, "containerd.io");
  EXPECT_EQ(pkgs[0].version, "1.5.11-1");
  EXPECT_EQ(pkgs[0].arch, "amd64");
}

TEST(DpkgStatusParse, DistrolessStanzaWithoutStatus) {
  std::string_view text = "Package: runc\nVersion: 1.1.5+ds1-1\nArchitecture: amd64\n";
  EXPECT_TRUE(ParseDpkgStatus(text).empty());
  EXPECT_EQ(ParseDpkgStatus(text, /*status_optional=*/true).size(), 1u);
}

// The piecewise reader gives what the whole-text parse gives, filtered to
// the wanted names, however the text is cut (mid-line, mid-stanza, at a
// blank line, one byte at a time).
TEST(DpkgStatusReader, SameAsTheWholeParseFilteredForEveryPieceSize) {
  const std::string text =
      "Package: containerd.io\nStatus: install ok installed\nArchitecture: amd64\n"
      "Version: 1.5.11-1\nDescription: x\n more\n\n"
      "Package: bash\nStatus: install ok installed\nVersion: 5.2\n\n\n"
      "Package: runc\nStatus: deinstall ok config-files\nVersion: 1.1\n\n"
      "Package: runc\nStatus: install ok installed\nArchitecture: arm64\nVersion: 1.1.5\n";
  const std::vector<std::string_view> wanted = {"containerd.io", "runc"};
  std::vector<Package> want;
  for (auto& p : ParseDpkgStatus(text)) {
    if (p.name != "bash") want.push_back(p);
  }
  ASSERT_EQ(want.size(), 2u);
  for (std::size_t size = 1; size <= text.size(); ++size) {
    SCOPED_TRACE(size);
    DpkgStatusReader reader(wanted);
    for (std::size_t at = 0; at < text.size(); at += size) {
      reader.Feed(std::string_view(text).substr(at, size));
    }
    EXPECT_EQ(reader.Finish(), want);
  }
  DpkgStatusReader optional(wanted, /*status_optional=*/true);
  optional.Feed("Package: runc\nVersion: 1.1.5+ds1-1\n");
  EXPECT_EQ(optional.Finish().size(), 1u);
}

TEST(DpkgListParse, PathsOnly) {
  EXPECT_EQ(ParseDpkgList("/.\n/usr\n/usr/bin\n/usr/bin/runc\n\n"),
            (std::vector<std::string>{"/.", "/usr", "/usr/bin", "/usr/bin/runc"}));
}

TEST(ApkInstalledParse, PackagesAndFiles) {
  // Shape of Alpine's /lib/apk/db/installed (apk(8) database format).
  auto pkgs = ParseApkInstalled(
      "C:Q1abc=\nP:runc\nV:1.1.12-r3\nA:x86_64\nF:usr\nF:usr/bin\nR:runc\n\n"
      "P:containerd\nV:1.7.15-r1\nA:x86_64\nF:usr/bin\nR:containerd\nR:ctr\n");
  ASSERT_EQ(pkgs.size(), 2u);
  EXPECT_EQ(pkgs[0].name, "runc");
  EXPECT_EQ(pkgs[0].version, "1.1.12-r3");
  EXPECT_EQ(pkgs[0].files, (std::vector<std::string>{"/usr/bin/runc"}));
  EXPECT_EQ(pkgs[1].files,
            (std::vector<std::string>{"/usr/bin/containerd", "/usr/bin/ctr"}));
}

TEST(UpstreamVersion, DropsEpochAndRevision) {
  struct Row {
    std::string in, want;
  };
  for (const auto& r : {Row{"1.5.11-1", "1.5.11"},
                        Row{"1.6.20~ds1-1+deb12u3", "1.6.20~ds1"},
                        Row{"1:2.0-3", "2.0"}, Row{"1.7.15-r1", "1.7.15"},
                        Row{"1.2.3", "1.2.3"}, Row{"", ""}}) {
    SCOPED_TRACE(r.in);
    EXPECT_EQ(UpstreamVersion(r.in), r.want);
  }
}

}  // namespace
}  // namespace cvm::probe
