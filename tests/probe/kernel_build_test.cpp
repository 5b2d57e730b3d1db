#include "probe/kernel_build.h"

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

constexpr const char* kConfigGz = "tests/data/kernel-config/6.18.44-fc-v595.config.gz";

std::vector<ProbeError> BuildErrors(const Facts& f) {
  std::vector<ProbeError> out;
  for (const auto& e : f.errors()) {
    if (e.probe == "kernel-build") out.push_back(e);
  }
  return out;
}

TEST(KernelConfigParse, ValuesNotSetAndComments) {
  auto c = ParseKernelConfig(
      "#\n# Automatically generated file; DO NOT EDIT.\n#\n"
      "CONFIG_USER_NS=y\n# CONFIG_CONFIGFS_FS is not set\nCONFIG_FUSE_FS=m\n"
      "CONFIG_LOCALVERSION=\"\"\nCONFIG_NR_CPUS=64\r\n\n# comment\n=y\nCONFIG_=y\n");
  std::map<std::string, std::string> want = {
      {"USER_NS", "y"}, {"CONFIGFS_FS", "n"}, {"FUSE_FS", "m"},
      {"LOCALVERSION", "\"\""}, {"NR_CPUS", "64"}};
  EXPECT_EQ(c, want);
  EXPECT_TRUE(ParseKernelConfig("").empty());
  EXPECT_TRUE(ParseKernelConfig("not a config\n").empty());
}

TEST(KernelConfigParse, ThisMachineConfigGz) {
  auto gz = cvm::testing::ReadText(cvm::testing::SourcePath(kConfigGz));
  auto text = GunzipBounded(gz, 8 << 20);
  ASSERT_TRUE(text) << text.error().message;
  auto c = ParseKernelConfig(*text);
  EXPECT_EQ(c["USER_NS"], "y");
  EXPECT_EQ(c["MODULES"], "n");
  EXPECT_EQ(c["CONFIGFS_FS"], "n");
  EXPECT_EQ(c["OVERLAY_FS"], "y");
}

TEST(GunzipBounded, CapIsAnErrorNotATruncation) {
  auto gz = cvm::testing::ReadText(cvm::testing::SourcePath(kConfigGz));
  auto text = GunzipBounded(gz, 1000);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, EFBIG);
}

TEST(GunzipBounded, CorruptAndTruncatedStreams) {
  auto gz = cvm::testing::ReadText(cvm::testing::SourcePath(kConfigGz));
  EXPECT_FALSE(GunzipBounded(gz.substr(0, gz.size() / 2), 8 << 20));
  EXPECT_FALSE(GunzipBounded("CONFIG_USER_NS=y\n", 8 << 20));
  EXPECT_FALSE(GunzipBounded("", 8 << 20));
}

TEST(KernelBuildProbe, ProcConfigGzFirst) {
  TempTree t;
  t.Write("proc/sys/kernel/osrelease", "6.18.44-fc-v595\n");
  t.Write("proc/config.gz",
          cvm::testing::ReadText(cvm::testing::SourcePath(kConfigGz)));
  t.Write("boot/config-6.18.44-fc-v595", "CONFIG_USER_NS=m\n");
  t.Mkdir("usr/src");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString("kernel.config.USER_NS"), "y");
  EXPECT_EQ(f.Find("kernel.config.USER_NS")->source, "/proc/config.gz");
  EXPECT_EQ(*f.GetString("kernel.config.CONFIGFS_FS"), "n");
  EXPECT_EQ(f.GetBool(kKernelHeadersPresent), false);
  EXPECT_TRUE(BuildErrors(f).empty());
}

TEST(KernelBuildProbe, BootConfigAndMissingOptionIsN) {
  TempTree t;
  t.Write("proc/sys/kernel/osrelease", "5.15.0-48-generic\n");
  t.Write("boot/config-5.15.0-48-generic", "CONFIG_USER_NS=y\nCONFIG_FUSE_FS=m\n");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString("kernel.config.FUSE_FS"), "m");
  EXPECT_EQ(*f.GetString("kernel.config.VETH"), "n");
  EXPECT_EQ(f.Find("kernel.config.VETH")->source, "/boot/config-5.15.0-48-generic");
}

TEST(KernelBuildProbe, NoConfigIsOneError) {
  TempTree t;
  t.Write("proc/sys/kernel/osrelease", "5.15.0-48-generic\n");
  t.Mkdir("usr/src");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has("kernel.config.USER_NS"));
  auto errors = BuildErrors(f);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/proc/config.gz");
  EXPECT_NE(errors[0].message.find("/lib/modules/5.15.0-48-generic/build/.config"),
            std::string::npos);
}

TEST(KernelBuildProbe, UnreadableConfigStopsTheChain) {
  TempTree t;
  t.Write("proc/sys/kernel/osrelease", "5.15.0-48-generic\n");
  t.Mkdir("boot/config-5.15.0-48-generic");  // a directory: not ENOENT
  t.Write("usr/src/linux/.config", "CONFIG_USER_NS=y\n");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has("kernel.config.USER_NS"));
  EXPECT_EQ(f.GetBool(kKernelHeadersPresent), false);
  ASSERT_EQ(BuildErrors(f).size(), 1u);
}

TEST(KernelBuildProbe, HeadersThroughAbsoluteBuildLink) {
  TempTree t;
  t.Write("proc/sys/kernel/osrelease", "5.15.0-48-generic\n");
  t.Mkdir("usr/src/linux-headers-5.15.0-48-generic-real");
  // Ubuntu: /lib/modules/<rel>/build -> /usr/src/linux-headers-<rel>.
  t.Symlink("lib/modules/5.15.0-48-generic/build",
            "/usr/src/linux-headers-5.15.0-48-generic-real");
  Facts f = ScanTree(t);
  EXPECT_EQ(f.GetBool(kKernelHeadersPresent), true);
  EXPECT_EQ(*f.GetString(kKernelHeadersPath), "/lib/modules/5.15.0-48-generic/build");
}

TEST(KernelBuildProbe, NoUsrSrcNorLibModulesIsUnknown) {
  TempTree t;
  t.Write("proc/sys/kernel/osrelease", "5.15.0-48-generic\n");
  t.Write("boot/config-5.15.0-48-generic", "CONFIG_USER_NS=y\n");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has(kKernelHeadersPresent));
  auto errors = BuildErrors(f);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/usr/src");
}

TEST(KernelBuildProbe, RhelHeaders) {
  TempTree t;
  t.Write("proc/sys/kernel/osrelease", "4.18.0-477.27.1.el8_8.x86_64\n");
  t.Mkdir("usr/src/kernels/4.18.0-477.27.1.el8_8.x86_64");
  Facts f = ScanTree(t);
  EXPECT_EQ(*f.GetString(kKernelHeadersPath),
            "/usr/src/kernels/4.18.0-477.27.1.el8_8.x86_64");
}

TEST(KernelBuildProbe, DanglingBuildLinkIsNoHeaders) {
  TempTree t;
  t.Write("proc/sys/kernel/osrelease", "6.1.0-18-amd64\n");
  t.Symlink("lib/modules/6.1.0-18-amd64/build", "/usr/src/linux-headers-6.1.0-18-amd64");
  Facts f = ScanTree(t);
  EXPECT_EQ(f.GetBool(kKernelHeadersPresent), false);
  EXPECT_FALSE(f.Has(kKernelHeadersPath));
}

}  // namespace
}  // namespace cvm::probe

namespace cvm::probe {
namespace {

// The piecewise reader keeps what ParseKernelConfig gives for the wanted
// options, however the text is cut; any_option() sees unwanted lines too.
TEST(KernelConfigReader, SameAsTheWholeParseFilteredForEveryPieceSize) {
  const std::string text =
      "#\n# Automatically generated file; DO NOT EDIT.\n#\nCONFIG_USER_NS=y\r\n"
      "# CONFIG_AUFS_FS is not set\nCONFIG_OVERLAY_FS=m\nCONFIG_NR_CPUS=64\n"
      "CONFIG_LOCALVERSION=\"-fc\"\n# CONFIG_FUSE_FS is not set\nCONFIG_USER_NS=m";
  constexpr std::string_view kWanted[] = {"USER_NS", "OVERLAY_FS", "FUSE_FS", "VETH"};
  std::map<std::string, std::string> want;
  for (const auto& [k, v] : ParseKernelConfig(text)) {
    for (auto w : kWanted) {
      if (k == w) want[k] = v;
    }
  }
  ASSERT_EQ(want.size(), 3u);
  EXPECT_EQ(want["USER_NS"], "m");
  for (std::size_t size = 1; size <= text.size(); ++size) {
    SCOPED_TRACE(size);
    KernelConfigReader reader(kWanted);
    for (std::size_t at = 0; at < text.size(); at += size) {
      reader.Feed(std::string_view(text).substr(at, size));
    }
    EXPECT_EQ(reader.Finish(), want);
    EXPECT_TRUE(reader.any_option());
  }
  KernelConfigReader none(kWanted);
  none.Feed("CONFIG_NR_CPUS=64\n");
  EXPECT_TRUE(none.Finish().empty());
  EXPECT_TRUE(none.any_option()) << "a config, only without the options wanted";
  KernelConfigReader not_config(kWanted);
  not_config.Feed("hello\n# comment\n");
  EXPECT_FALSE(not_config.any_option());
}

TEST(GunzipPieces, HandsOnWhatGunzipBoundedReturns) {
  // "hello\n" gzipped (gzip -n).
  const unsigned char gz[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
                              0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xe7, 0x02, 0x00, 0x20, 0x30,
                              0x3a, 0x36, 0x06, 0x00, 0x00, 0x00};
  std::string_view in(reinterpret_cast<const char*>(gz), sizeof gz);
  std::string got;
  auto n = GunzipPieces(in, 100, [&](std::string_view p) { got += p; });
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 6u);
  EXPECT_EQ(got, "hello\n");
  EXPECT_EQ(*GunzipBounded(in, 100), got);
  auto small = GunzipPieces(in, 3, [](std::string_view) {});
  ASSERT_FALSE(small);
  EXPECT_EQ(small.error().code, EFBIG);
}

}  // namespace
}  // namespace cvm::probe
